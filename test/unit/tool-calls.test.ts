// Tool calls without a model: the options' checks, the tool-call formats' parsers, the stream reader that
// takes calls out of a reply, and the schemas that constrain a reply to a call.
import { Ajv } from 'ajv';
import { describe, expect, test } from 'vitest';
import { GrammarUnavailableError, OptionError } from '../../lib/errors.js';
import { toHttpError } from '../../lib/server/openai-errors.js';
import { optionsOf } from '../../lib/option-table.js';
import { requiredCallsLabel, requiredCallsSchema } from '../../lib/tool-calls/call-schema.js';
import { hermes } from '../../lib/tool-calls/formats/hermes.js';
import { toolCallFormatOf } from '../../lib/tool-calls/formats/index.js';
import { llama3Json } from '../../lib/tool-calls/formats/llama3-json.js';
import { mistral } from '../../lib/tool-calls/formats/mistral.js';
import { jsonSequence } from '../../lib/tool-calls/tool-call-format.js';
import { assembleToolCalls, ToolCallReader, type ReadPiece, type ToolCallMode } from '../../lib/tool-calls/tool-call-reader.js';
import { resolveTools, type ToolDefinition } from '../../lib/tool-calls/tools.js';

const weather: ToolDefinition = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } }, required: ['city'] },
  },
};
const time: ToolDefinition = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

function thrown(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError);
    return error as OptionError;
  }
  throw new Error('expected an OptionError');
}

describe('tools, toolChoice and parallelToolCalls', () => {
  test('resolve with defaults: auto, parallel, parameters an object schema', () => {
    expect(resolveTools({})).toBeUndefined();
    expect(resolveTools({ tools: [], toolChoice: 'none' })).toBeUndefined();
    const bare = { type: 'function', function: { name: 'ping' } } as const;
    expect(resolveTools({ tools: [bare] })).toEqual({
      tools: [{ type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } }],
      choice: 'auto',
      parallel: true,
    });
    const named = resolveTools({ tools: [weather, time], toolChoice: { type: 'function', function: { name: 'get_time' } }, parallelToolCalls: false });
    expect(named?.choice).toEqual({ name: 'get_time', tool: named?.tools[1] });
    expect(named?.parallel).toBe(false);
  });

  // [options, option, message]: every refusal, its option as data and its message pinned.
  const refusals: [Record<string, unknown>, string, string][] = [
    [{ tools: 'x' }, 'tools', "tools: expected an array of at most 128 { type: 'function', function: { name, description?, parameters? } }, received \"x\""],
    [{ tools: Array(129).fill(time) }, 'tools', "tools: expected an array of at most 128 { type: 'function', function: { name, description?, parameters? } }, received an array"],
    [{ tools: [null] }, 'tools', "tools[0]: expected { type: 'function', function: { name, description?, parameters? } }, received null"],
    [{ tools: [{ type: 'code_interpreter' }] }, 'tools', 'tools[0].type: expected \'function\', received "code_interpreter"'],
    [{ tools: [{ type: 'function' }] }, 'tools', 'tools[0].function: expected { name, description?, parameters? }, received undefined'],
    [{ tools: [time, { type: 'function', function: { name: 'get weather' } }] }, 'tools', 'tools[1].function.name: expected a name of 1 to 64 letters, digits, underscores or dashes, received "get weather"'],
    [{ tools: [{ type: 'function', function: { name: 'f', description: 3 } }] }, 'tools', 'tools[0].function.description: expected a string, received 3'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] }, 'tools', 'tools[0].function.parameters: expected a JSON Schema object, received an array'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, 'tools', "tools[0].function.parameters.type: expected 'object' (a function's arguments are an object), received \"string\""],
    [{ tools: [{ type: 'function', function: { name: 'f', strict: 'yes' } }] }, 'tools', 'tools[0].function.strict: expected a boolean, received "yes"'],
    [{ tools: [time, time] }, 'tools', 'tools[1].function.name: "get_time" is defined twice; function names must be unique'],
    [{ tools: [time], toolChoice: 'always' }, 'toolChoice', "toolChoice: expected 'auto', 'none', 'required' or { type: 'function', function: { name } }, received \"always\""],
    [{ tools: [time], toolChoice: { type: 'function', function: {} } }, 'toolChoice', "toolChoice: expected 'auto', 'none', 'required' or { type: 'function', function: { name } }, received a object"],
    [{ tools: [time], toolChoice: { type: 'function', function: { name: 'get_weather' } } }, 'toolChoice', 'toolChoice: names the function "get_weather", which is not among tools (get_time)'],
    [{ toolChoice: 'required' }, 'toolChoice', 'toolChoice: needs tools to choose from; pass tools, or leave it out (received "required")'],
    [{ tools: [time], parallelToolCalls: 'no' }, 'parallelToolCalls', 'parallelToolCalls: expected a boolean, received "no"'],
  ];
  test.each(refusals)('%j is refused', (options, option, message) => {
    const error = thrown(() => resolveTools(options));
    expect(error.option).toBe(option);
    expect(error.message).toBe(message);
  });

  test('the refusals cover every chat option of the table', () => {
    expect(new Set(refusals.map(([, option]) => option))).toEqual(new Set(optionsOf('chat').map((spec) => spec.name)));
  });
});

describe('tool-call formats', () => {
  test('are chosen from the template that writes them', () => {
    expect(toolCallFormatOf('{{- "<tool_call>" }}')?.name).toBe('hermes');
    expect(toolCallFormatOf("{{- '<|python_tag|>' }}")?.name).toBe('llama3-json');
    expect(toolCallFormatOf('ipython ... {"name": function name, "parameters": dictionary}')?.name).toBe('llama3-json');
    expect(toolCallFormatOf('[AVAILABLE_TOOLS] ... [TOOL_CALLS] "parameters"')?.name).toBe('mistral');
    expect(toolCallFormatOf('{{ message.content }}')).toBeUndefined();
  });

  test('hermes reads calls anywhere in the reply, several, and a last one cut before its closing tag', () => {
    const reply = 'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>{"name": "get_time", "arguments": "{}"}';
    expect(hermes.parse(reply)).toEqual({
      content: 'Let me look.',
      calls: [
        { name: 'get_weather', arguments: { city: 'Paris' } },
        { name: 'get_time', arguments: {} },
      ],
    });
    expect(hermes.parse('no call here')).toBeUndefined();
    expect(hermes.parse('<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>')).toBeUndefined();
    expect(hermes.parse('<tool_call>{"arguments": {}}</tool_call>')).toBeUndefined();
    expect(hermes.parse('<tool_call>{"name": "f", "arguments": [1]}</tool_call>')).toBeUndefined();
  });

  test('llama3-json reads a whole-reply call, with or without <|python_tag|>, several joined by semicolons', () => {
    expect(llama3Json.parse(' {"name": "get_weather", "parameters": {"city": "Paris"}}')).toEqual({
      content: '',
      calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
    });
    expect(llama3Json.parse('<|python_tag|>{"name": "a", "parameters": {"s": "x;}"}}; {"name": "b", "parameters": {}}')?.calls).toEqual([
      { name: 'a', arguments: { s: 'x;}' } },
      { name: 'b', arguments: {} },
    ]);
    expect(llama3Json.parse('{"name": "a", "parameters": {}} and some words')).toBeUndefined();
    expect(llama3Json.parse('{"answer": 42}')).toBeUndefined();
  });

  test('mistral reads [TOOL_CALLS] and an array, and makes nine-character ids', () => {
    expect(mistral.parse('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]')).toEqual({
      content: '',
      calls: [
        { name: 'get_weather', arguments: { city: 'Paris' } },
        { name: 'get_time', arguments: {} },
      ],
    });
    expect(mistral.parse('[TOOL_CALLS] [{"name": 1}]')).toBeUndefined();
    expect(mistral.newId()).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(hermes.newId()).toMatch(/^call_[\w-]{24}$/);
  });

  test('jsonSequence splits JSON values by their brackets, strings and escapes respected', () => {
    expect(jsonSequence('{"a": "}\\""} ; [1, {"b": []}]')).toEqual([{ a: '}"' }, [1, { b: [] }]]);
    expect(jsonSequence('{"a": 1')).toBeUndefined();
    expect(jsonSequence('{"a": 1} x')).toBeUndefined();
    expect(jsonSequence('{"a": 1,}')).toBeUndefined();
  });
});

/** Feeds `reply` to a reader in pieces of `size` characters; returns the content and the deltas it gave. */
function read(mode: ToolCallMode, reply: string, size: number): { text: string; pieces: ReadPiece[] } {
  let n = 0;
  const reader = new ToolCallReader(mode, () => `call_${n++}`);
  const pieces: ReadPiece[] = [];
  for (let i = 0; i < reply.length; i += size) pieces.push(reader.push(reply.slice(i, i + size)));
  pieces.push(reader.end());
  return { text: pieces.map((piece) => piece.text).join(''), pieces };
}

describe('ToolCallReader', () => {
  const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "巴黎"}}\n</tool_call>';

  test.each([1, 3, 1000])("'auto' streams the content before a call, holds the call back, and hands it on whole (pieces of %i)", (size) => {
    const { text, pieces } = read({ kind: 'auto', format: hermes, parallel: true }, `好的 <tool_c${'x'}> then${call}`, size);
    expect(text).toBe('好的 <tool_cx> then');
    // Nothing that could begin the marker went out before the marker was ruled out.
    const shownSoFar = pieces.map((piece) => piece.text);
    expect(shownSoFar.join('')).not.toContain('<tool_call');
    expect(assembleToolCalls(pieces.flatMap((piece) => piece.toolCalls))).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"巴黎"}' } },
    ]);
    const deltas = pieces.flatMap((piece) => piece.toolCalls);
    expect(deltas[0]).toEqual({ index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } });
  });

  test("'auto' returns a reply without calls as text, a held-back marker prefix included", () => {
    expect(read({ kind: 'auto', format: hermes, parallel: true }, 'Just text <tool_', 4)).toMatchObject({ text: 'Just text <tool_' });
    const broken = read({ kind: 'auto', format: hermes, parallel: true }, 'x<tool_call>{"name": "f", "argu', 5);
    expect(broken.text).toBe('x<tool_call>{"name": "f", "argu');
    expect(broken.pieces.every((piece) => piece.toolCalls.length === 0)).toBe(true);
  });

  test("'auto' with Llama's format holds back a reply that opens like a call, and lets text through", () => {
    expect(read({ kind: 'auto', format: llama3Json, parallel: true }, 'Paris is sunny.', 2).text).toBe('Paris is sunny.');
    const called = read({ kind: 'auto', format: llama3Json, parallel: true }, '<|python_tag|>{"name": "get_time", "parameters": {}}', 3);
    expect(called.text).toBe('');
    expect(assembleToolCalls(called.pieces.flatMap((piece) => piece.toolCalls))).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
  });

  test("'auto' without parallel calls keeps the first call of a reply that makes two", () => {
    const two = '<tool_call>{"name": "get_time", "arguments": {}}</tool_call><tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>';
    const calls = (parallel: boolean) =>
      assembleToolCalls(read({ kind: 'auto', format: hermes, parallel }, two, 9).pieces.flatMap((piece) => piece.toolCalls)).map((call) => call.function.name);
    expect(calls(true)).toEqual(['get_time', 'get_weather']);
    expect(calls(false)).toEqual(['get_time']);
  });

  test("'named' streams the reply as the call's arguments: first delta with id, type and name", () => {
    const { text, pieces } = read({ kind: 'named', name: 'get_weather' }, '{"city": "Paris"}', 4);
    expect(text).toBe('');
    const deltas = pieces.flatMap((piece) => piece.toolCalls);
    expect(deltas[0]).toEqual({ index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas[1]).toEqual({ index: 0, function: { arguments: '{"ci' } });
    expect(deltas.slice(1).every((delta) => delta.id === undefined && delta.function.name === undefined)).toBe(true);
    expect(assembleToolCalls(deltas)).toEqual([{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }]);
    // An empty reply is still a call (with no arguments).
    expect(assembleToolCalls(read({ kind: 'named', name: 'get_time' }, '', 1).pieces.flatMap((p) => p.toolCalls))).toHaveLength(1);
  });

  test.each([1, 4, 1000])("'required' streams each call's arguments as they are written (pieces of %i)", (size) => {
    const one = read({ kind: 'required', parallel: false }, '{"name": "get_time", "arguments": {"zone": "Asia/Tokyo"}}', size);
    expect(one.text).toBe('');
    expect(assembleToolCalls(one.pieces.flatMap((p) => p.toolCalls))).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{"zone": "Asia/Tokyo"}' } },
    ]);
    const reply = '[{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "{Oslo}\\"", "at": {"d": [1]}}}]';
    const two = read({ kind: 'required', parallel: true }, reply, size);
    const deltas = two.pieces.flatMap((p) => p.toolCalls);
    expect(assembleToolCalls(deltas)).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "{Oslo}\\"", "at": {"d": [1]}}' } },
    ]);
    expect(deltas.filter((d) => d.id !== undefined).every((d) => d.function.arguments === '')).toBe(true);
    // Small pieces: the arguments come in as many deltas, not at the end.
    if (size === 1) expect(deltas.length).toBeGreaterThan(20);
  });

  test("'required': a name after the arguments still makes the call; a reply cut before a call is text", () => {
    const late = read({ kind: 'required', parallel: false }, '{"arguments": {"a": 1}, "name": "f"}', 3);
    expect(assembleToolCalls(late.pieces.flatMap((p) => p.toolCalls))).toEqual([{ id: 'call_0', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } }]);
    expect(read({ kind: 'required', parallel: true }, '[{"name": "get_ti', 5)).toMatchObject({ text: '[{"name": "get_ti' });
  });
});

describe('the schemas of a required call', () => {
  const ajv = new Ajv({ strict: false });

  test('accept exactly the calls of the tools, arguments by their parameters', () => {
    const one = ajv.compile(requiredCallsSchema([weather, time], false));
    expect(one({ name: 'get_weather', arguments: { city: 'Paris' } })).toBe(true);
    expect(one({ name: 'get_time', arguments: {} })).toBe(true);
    expect(one({ name: 'get_weather', arguments: {} })).toBe(false);
    expect(one({ name: 'get_date', arguments: {} })).toBe(false);
    expect(one({ name: 'get_time', arguments: {}, extra: 1 })).toBe(false);
    const many = ajv.compile(requiredCallsSchema([weather], true));
    expect(many([{ name: 'get_weather', arguments: { city: 'Paris', days: 2 } }])).toBe(true);
    expect(many([])).toBe(false);
  });

  test("a pointer into them names the tool's parameters", () => {
    expect(requiredCallsLabel('/items/anyOf/1/properties/arguments/properties/city', [weather, time])).toBe('tools[1].function.parameters/properties/city');
    expect(requiredCallsLabel('/properties/arguments', [weather])).toBe('tools[0].function.parameters');
    expect(requiredCallsLabel('/properties/arguments', [weather, time])).toBeUndefined();
    expect(requiredCallsLabel('', [weather])).toBeUndefined();
  });
});

describe('the server', () => {
  test('answers a constrained request on a build without the grammar engine with a 400 that says how to get it', () => {
    const error = toHttpError(new GrammarUnavailableError('responseFormat needs the grammar engine (llguidance) ...'));
    expect(error.status).toBe(400);
    expect(error.body).toEqual({
      error: { message: 'responseFormat needs the grammar engine (llguidance) ...', type: 'invalid_request_error', param: null, code: 'grammar_unavailable' },
    });
  });
});
