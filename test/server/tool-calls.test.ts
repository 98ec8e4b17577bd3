// Structured output and tool calls through the official `openai` client against a real server serving the
// real SmolLM2-135M-Instruct (whose template has no tools: they are described in a system message), in
// English and in Chinese; the calls' arguments and the JSON replies are checked with ajv.
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import OpenAI from 'openai';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { loadModel, type Model } from '@org/torch-gen';
import { defaultModelDir } from '../helpers.js';
import { postRaw, startServer, type Running } from './server-helpers.js';

let smol: Model;
let running: Running;
let client: OpenAI;
const ajv = new Ajv({ strict: false });

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather of a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 40 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const time: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', description: 'Get the time in a time zone', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 40 } }, required: ['zone'], additionalProperties: false } },
};
const validArguments = ajv.compile(weather.function.parameters!);

const person = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 30 },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    languages: { type: 'array', items: { type: 'string', maxLength: 20 }, minItems: 1, maxItems: 3 },
  },
  required: ['name', 'age', 'languages'],
  additionalProperties: false,
};
const validPerson = ajv.compile(person);

const prompts = {
  English: { weather: 'What is the weather like in Paris today?', person: 'Describe a fictional programmer: name, age and languages.' },
  Chinese: { weather: '今天北京的天气怎么样?', person: '请描述一位虚构的程序员:姓名、年龄和会说的语言。' },
} as const;

beforeAll(async () => {
  smol = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 1024 });
  running = await startServer({ smollm2: smol });
  client = running.client();
});

afterAll(async () => {
  await running?.server.close();
  await smol?.dispose();
});

async function failure(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }
  throw new Error('expected the request to fail');
}

describe.each(Object.keys(prompts) as (keyof typeof prompts)[])('%s prompts', (language) => {
  test('a named tool_choice returns a tool call whose arguments validate, finish_reason tool_calls', async () => {
    const completion = await client.chat.completions.create({
      model: 'smollm2',
      messages: [{ role: 'user', content: prompts[language].weather }],
      tools: [weather, time],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 100,
      temperature: 0,
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call).toMatchObject({ id: expect.stringMatching(/^call_[\w-]{24}$/), type: 'function', function: { name: 'get_weather' } });
    const args = JSON.parse((call as { function: { arguments: string } }).function.arguments) as unknown;
    expect(validArguments(args), JSON.stringify(validArguments.errors)).toBe(true);
  });

  test('response_format json_schema (strict) returns content that validates against the schema', async () => {
    const completion = await client.chat.completions.create({
      model: 'smollm2',
      messages: [{ role: 'user', content: prompts[language].person }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: person, strict: true } },
      max_tokens: 120,
      temperature: 1,
      seed: 11,
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    const content = JSON.parse(choice.message.content!) as unknown;
    expect(validPerson(content), JSON.stringify(validPerson.errors)).toBe(true);
  });
});

test.each([
  ['English', 'Give the name and the capital of France as JSON.'],
  ['Chinese', '用JSON表示一本书的书名和作者。'],
])('response_format json_object returns a JSON object (%s)', async (_language, content) => {
  const completion = await client.chat.completions.create({
    model: 'smollm2',
    messages: [{ role: 'user', content }],
    response_format: { type: 'json_object' },
    max_tokens: 120,
    temperature: 0,
  });
  expect(completion.choices[0]!.finish_reason).toBe('stop');
  const reply = JSON.parse(completion.choices[0]!.message.content!) as unknown;
  expect(reply).toBeTypeOf('object');
  expect(Array.isArray(reply)).toBe(false);
});

test('a streamed tool call: a first delta with id, type and name, then argument deltas that assemble to valid arguments', async () => {
  const stream = await client.chat.completions.create({
    model: 'smollm2',
    messages: [{ role: 'user', content: '柏林现在天气如何?' }],
    tools: [weather],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    max_tokens: 100,
    temperature: 0,
    stream: true,
  });
  const deltas = [];
  const finishReasons = [];
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.delta.tool_calls) deltas.push(...choice.delta.tool_calls);
    if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
    expect(choice?.delta.content ?? '').toBe('');
  }
  expect(finishReasons).toEqual(['tool_calls']);
  expect(deltas[0]).toEqual({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '' } });
  expect(deltas.length).toBeGreaterThan(2);
  expect(deltas.slice(1).every((delta) => delta.id === undefined && delta.function?.name === undefined)).toBe(true);
  const args = deltas.map((delta) => delta.function?.arguments ?? '').join('');
  expect(validArguments(JSON.parse(args)), args).toBe(true);
});

test("tool_choice 'required' with parallel_tool_calls false streams one call of one of the tools, its arguments as they come", async () => {
  const response = await postRaw(`${running.url}/v1/chat/completions`, {
    model: 'smollm2',
    messages: [{ role: 'user', content: 'What time is it in Tokyo?' }],
    tools: [weather, time],
    tool_choice: 'required',
    parallel_tool_calls: false,
    max_tokens: 100,
    temperature: 0,
    stream: true,
  });
  expect(response.status).toBe(200);
  expect(response.raw.endsWith('data: [DONE]\n\n')).toBe(true);
  const deltas = response.events.flatMap((event) => (event.choices as { delta: { tool_calls?: { index: number; function: { name?: string; arguments: string } }[] } }[])[0]?.delta.tool_calls ?? []);
  expect(new Set(deltas.map((delta) => delta.index))).toEqual(new Set([0]));
  // The arguments stream as they are written, not in one piece at the end.
  expect(deltas.length).toBeGreaterThan(3);
  const name = deltas[0]!.function.name!;
  expect(['get_weather', 'get_time']).toContain(name);
  const args = JSON.parse(deltas.map((delta) => delta.function.arguments).join('')) as unknown;
  const tool = [weather, time].find((t) => t.function.name === name)!;
  expect(ajv.validate(tool.function.parameters!, args)).toBe(true);
});

test('a conversation with a call and its result goes on: the result reaches the model', async () => {
  const completion = await client.chat.completions.create({
    model: 'smollm2',
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21, "sky": "clear"}' },
    ],
    tools: [weather],
    max_tokens: 8,
    temperature: 0,
  });
  expect(completion.choices[0]!.message.role).toBe('assistant');
  expect(['stop', 'length', 'tool_calls']).toContain(completion.choices[0]!.finish_reason);
  const expected = smol.chatPromptIds(
    [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21, "sky": "clear"}' },
    ],
    { tools: [weather as never] },
  );
  expect(completion.usage?.prompt_tokens).toBe(expected.length);
});

describe('400s in OpenAI\'s shape', () => {
  const user = [{ role: 'user' as const, content: 'x' }];
  const cases: [string, Record<string, unknown>, { message: string; param: string; code: string }][] = [
    ['tools not an array', { tools: { type: 'function' } }, { message: "tools: expected an array of at most 128 { type: 'function', function: { name, description?, parameters? } }, received a object", param: 'tools', code: 'invalid_value' }],
    ['a tool with a bad name', { tools: [{ type: 'function', function: { name: 'get weather' } }] }, { message: 'tools[0].function.name: expected a name of 1 to 64 letters, digits, underscores or dashes, received "get weather"', param: 'tools', code: 'invalid_value' }],
    ['tool_choice naming no tool', { tools: [weather], tool_choice: { type: 'function', function: { name: 'get_time' } } }, { message: 'tool_choice: names the function "get_time", which is not among tools (get_weather)', param: 'tool_choice', code: 'invalid_value' }],
    ['tool_choice without tools', { tool_choice: 'required' }, { message: 'tool_choice: needs tools to choose from; pass tools, or leave it out (received "required")', param: 'tool_choice', code: 'invalid_value' }],
    ['parallel_tool_calls not a boolean', { tools: [weather], parallel_tool_calls: 'no' }, { message: 'parallel_tool_calls: expected a boolean, received "no"', param: 'parallel_tool_calls', code: 'invalid_value' }],
    ['response_format not an object', { response_format: 'json' }, { message: "response_format: expected { type: 'text' }, { type: 'json_object' } or { type: 'json_schema', json_schema: { name, schema, description?, strict? } }, received \"json\"", param: 'response_format', code: 'invalid_value' }],
    ['an unknown response_format type', { response_format: { type: 'yaml' } }, { message: "response_format.type: expected 'text', 'json_object' or 'json_schema', received \"yaml\"", param: 'response_format', code: 'invalid_value' }],
    ['json_schema missing', { response_format: { type: 'json_schema' } }, { message: 'response_format.json_schema: expected { name, schema, description?, strict? }, received undefined', param: 'response_format', code: 'invalid_value' }],
    ['json_schema without a name', { response_format: { type: 'json_schema', json_schema: { schema: person } } }, { message: 'response_format.json_schema.name: expected a name of 1 to 64 letters, digits, underscores or dashes, received undefined', param: 'response_format', code: 'invalid_value' }],
    ['json_schema strict not a boolean', { response_format: { type: 'json_schema', json_schema: { name: 'p', schema: person, strict: 1 } } }, { message: 'response_format.json_schema.strict: expected a boolean, received 1', param: 'response_format', code: 'invalid_value' }],
    ['json_schema description not a string', { response_format: { type: 'json_schema', json_schema: { name: 'p', schema: person, description: [] } } }, { message: 'response_format.json_schema.description: expected a string, received an array', param: 'response_format', code: 'invalid_value' }],
    ['json_schema schema not an object', { response_format: { type: 'json_schema', json_schema: { name: 'p', schema: 'object' } } }, { message: 'response_format.json_schema.schema: expected a JSON schema object, received "object"', param: 'response_format', code: 'invalid_value' }],
    ['a schema the grammar engine refuses', { response_format: { type: 'json_schema', json_schema: { name: 'p', schema: { type: 'object', properties: { x: { type: 'string', pattern: '(?<=a)b' } } } } } }, { message: 'response_format: the grammar engine cannot compile the schema at /properties/x: ', param: 'response_format', code: 'invalid_value' }],
    ["tool parameters the grammar engine refuses", { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'string', pattern: '(?<=a)b' } } } } }], tool_choice: 'required' }, { message: 'tools[0].function.parameters/properties/x: the grammar engine cannot compile this schema: ', param: 'tools', code: 'invalid_value' }],
    ['response_format with a constraining tool_choice', { tools: [weather], tool_choice: 'required', response_format: { type: 'json_object' } }, { message: "response_format: cannot be combined with toolChoice 'required' or a named function, which constrain the reply to a call themselves", param: 'response_format', code: 'invalid_value' }],
    ['a tool result answering no call', { messages: [...user, { role: 'tool', tool_call_id: 'call_9', content: '1' }] }, { message: 'messages[1].tool_call_id: answers the call "call_9", which no earlier assistant message made', param: 'messages', code: 'invalid_value' }],
    ['tool call arguments that are not JSON', { messages: [...user, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{city' } }] }] }, { message: 'messages[1].tool_calls[0].function.arguments: expected a JSON string of an object (or the object), received "{city"', param: 'messages', code: 'invalid_value' }],
    ['the deprecated function_call', { function_call: 'auto' }, { message: 'function_call: the deprecated function-calling fields are not supported; use tools and tool_choice', param: 'function_call', code: 'unsupported_parameter' }],
    ['a message of an unknown role', { messages: [{ role: 'function', content: 'x' }] }, { message: "messages[0].role: expected 'system', 'developer', 'user', 'assistant' or 'tool', received \"function\"", param: 'messages', code: 'invalid_value' }],
  ];
  test.each(cases)('%s', async (_what, fields, expected) => {
    for (const stream of [false, true]) {
      const error = await failure(() => client.chat.completions.create({ model: 'smollm2', messages: user, max_tokens: 4, stream, ...fields } as never));
      expect(error.status).toBe(400);
      const body = error.error as { message: string; param: string; code: string; type: string };
      // An engine's own words follow its refusal; the rest is ours.
      expect(body.message.startsWith(expected.message)).toBe(true);
      if (!expected.message.endsWith(': ')) expect(body.message).toBe(expected.message);
      expect(body).toMatchObject({ type: 'invalid_request_error', param: expected.param, code: expected.code });
    }
  });

  test('tools on /v1/completions are refused; response_format is taken there too', async () => {
    const tools = await failure(() => client.completions.create({ model: 'smollm2', prompt: 'x', tools: [weather] } as never));
    expect(tools.error).toEqual({ message: 'tools: only /v1/chat/completions calls tools', type: 'invalid_request_error', param: 'tools', code: 'unsupported_parameter' });
    const capital = { type: 'object', properties: { capital: { type: 'string', maxLength: 30 } }, required: ['capital'], additionalProperties: false };
    const completion = await client.completions.create({
      model: 'smollm2',
      prompt: 'The capital of France, as JSON:',
      max_tokens: 60,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'capital', schema: capital } },
    } as never);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(ajv.validate(capital, JSON.parse(completion.choices[0]!.text))).toBe(true);
  });
});
