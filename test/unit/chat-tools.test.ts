// Tools in the prompt: chat templates that render them (Hermes/Qwen style, Llama 3 style) and one that does
// not (ChatML, as SmolLM2's), the messages that carry calls and results, and the plan of a request.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ChatTemplate } from '../../lib/chat-template.js';
import type { ChatMessage } from '../../lib/chat-messages.js';
import { OptionError } from '../../lib/errors.js';
import { planChat } from '../../lib/tool-calls/chat-plan.js';
import { hermes } from '../../lib/tool-calls/formats/hermes.js';
import { toolCallFormatOf } from '../../lib/tool-calls/formats/index.js';
import { resolveTools, type ToolDefinition } from '../../lib/tool-calls/tools.js';

const templates = resolve(import.meta.dirname, '..', 'fixtures', 'tool-templates');
const load = async (name: string) => (await ChatTemplate.fromDirectory(resolve(templates, name))) as ChatTemplate;

const weather: ToolDefinition = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const conversation: ChatMessage[] = [
  { role: 'user', content: '巴黎天气怎么样?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "巴黎"}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
];

describe('chat templates and tools', () => {
  test('a template that renders tools is recognised, and one that ignores them is not; its call format is read from it', async () => {
    for (const [name, format] of [['hermes-tools', 'hermes'], ['llama3-tools', 'llama3-json'], ['mistral-tools', 'mistral']] as const) {
      const template = await load(name);
      expect(template.supportsTools, name).toBe(true);
      expect(toolCallFormatOf(template.source)?.name, name).toBe(format);
    }
    const chatml = await load('chatml');
    expect(chatml.supportsTools).toBe(false);
    expect(toolCallFormatOf(chatml.source)).toBeUndefined();
  });

  test("transformers' shape of calls and results (no ids, arguments as objects) renders as OpenAI's does", async () => {
    const template = await load('hermes-tools');
    const hf = [
      conversation[0]!,
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: '巴黎' } } }] as never },
      { role: 'tool', content: '{"temp": 21}' },
    ];
    expect(template.render(hf, { tools: [weather] })).toBe(template.render(conversation, { tools: [weather] }));
  });

  test('calls and results render through the template, arguments as objects', async () => {
    const prompt = (await load('hermes-tools')).render(conversation, { tools: [weather] });
    expect(prompt).toContain('{"name": "get_weather", "arguments": {"city": "巴黎"}}');
    expect(prompt).toContain('<tool_response>\n{"temp": 21}\n</tool_response>');
    expect(prompt).toContain('"description": "The weather of a city"');
    expect(prompt.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  test.each<[string, ChatMessage[], string]>([
    ['a message that is not an object', [null as never], 'messages[0]: expected { role: string, content: string }, received null'],
    ['an assistant message without content or calls', [{ role: 'assistant', content: null }], 'messages[0].content: expected a string, received null'],
    ['tool_calls on a user message', [{ role: 'user', content: 'x', tool_calls: [] }], 'messages[0].tool_calls: expected an array of tool calls, on an assistant message, received an array'],
    [
      'a call whose id is not a string',
      [{ role: 'assistant', content: '', tool_calls: [{ id: 3, type: 'function', function: { name: 'f', arguments: '{}' } }] as never }],
      "messages[0].tool_calls[0]: expected { id, type: 'function', function: { name, arguments } }, received a object",
    ],
    [
      'arguments that are not a JSON object',
      [{ role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1' } }] }],
      'messages[0].tool_calls[0].function.arguments: expected a JSON string of an object (or the object), received "[1"',
    ],
    ['a tool_call_id that is not a string', [{ role: 'tool', content: '1', tool_call_id: 3 as never }], 'messages[0].tool_call_id: expected the id of the call this result answers, received 3'],
    [
      'a tool result for a call never made',
      [...conversation.slice(0, 2), { role: 'tool', tool_call_id: 'call_2', content: '1' }],
      'messages[2].tool_call_id: answers the call "call_2", which no earlier assistant message made',
    ],
  ])('refuses %s, naming the message', async (_what, messages, message) => {
    const template = await load('hermes-tools');
    expect(() => template.render(messages)).toThrow(expect.objectContaining({ name: 'OptionError', option: 'messages', message }));
  });
});

describe('planChat', () => {
  const tools = (options: Record<string, unknown>) => resolveTools({ tools: [weather], ...options });

  test("'auto' on a template with a tool-call format: tools in the prompt, a reader of that format, no constraint", async () => {
    const plan = planChat(await load('hermes-tools'), [{ role: 'user', content: 'Weather in Paris?' }], tools({}));
    expect(plan.prompt).toContain('"name": "get_weather"');
    expect(plan.responseFormat).toBeUndefined();
    expect(plan.reader).toBeDefined();
  });

  test("'none' keeps the tools out of the prompt and reads no calls", async () => {
    const plan = planChat(await load('hermes-tools'), [{ role: 'user', content: 'Hi' }], tools({ toolChoice: 'none' }));
    expect(plan.prompt).not.toContain('get_weather');
    expect(plan.reader).toBeUndefined();
  });

  test('a named function constrains the reply to its parameters; required to a call of any tool', async () => {
    const template = await load('llama3-tools');
    const named = planChat(template, [{ role: 'user', content: 'x' }], tools({ toolChoice: { type: 'function', function: { name: 'get_weather' } } }));
    expect(named.responseFormat).toEqual({ type: 'json_schema', schema: weather.function.parameters });
    const required = planChat(template, [{ role: 'user', content: 'x' }], tools({ toolChoice: 'required', parallelToolCalls: false }));
    expect(required.responseFormat).toMatchObject({ type: 'json_schema', schema: { required: ['name', 'arguments'] } });
  });

  test('a template without tools gets them described in the system message, and the history as text', async () => {
    const template = await load('chatml');
    const plan = planChat(template, [{ role: 'system', content: 'Be brief.' }, ...conversation], tools({}));
    expect(plan.prompt).toMatch(/^<\|im_start\|>system\nBe brief\.\n\nYou may call the following functions/);
    expect(plan.prompt).toContain('{"name":"get_weather","description":"The weather of a city","parameters":');
    expect(plan.prompt).toContain('<|im_start|>assistant\n<tool_call>{"name":"get_weather","arguments":{"city":"巴黎"}}</tool_call><|im_end|>');
    expect(plan.prompt).toContain('<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>');
    // Its calls are read in the format the description asks for.
    expect(plan.reader).toBeDefined();
    const noSystem = planChat(template, [{ role: 'user', content: 'Hi' }], tools({}));
    expect(noSystem.prompt).toMatch(/^<\|im_start\|>system\nYou may call/);
  });

  test("'auto' on a template that renders tools in a format torch-gen does not know reads no calls", async () => {
    const template = await load('chatml');
    Object.defineProperty(template, 'supportsTools', { value: true });
    expect(planChat(template, [{ role: 'user', content: 'Hi' }], tools({})).reader).toBeUndefined();
  });

  test('the history is checked before it is rewritten for a template without tools', async () => {
    const template = await load('chatml');
    expect(() => planChat(template, [{ role: 'tool', tool_call_id: 'x', content: '1' }], undefined)).toThrow(OptionError);
  });
});

test("Qwen3's published template: tools rendered, Hermes' format read from it, and the calls it writes parse back", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'torch-gen-qwen3-'));
  try {
    copyFileSync(resolve(templates, '..', 'chat-templates', 'Qwen-Qwen3-0.6B.jinja'), join(dir, 'chat_template.jinja'));
    const template = (await ChatTemplate.fromDirectory(dir)) as ChatTemplate;
    expect(template.supportsTools).toBe(true);
    expect(toolCallFormatOf(template.source)).toBe(hermes);
    const prompt = template.render(conversation, { tools: [weather] });
    expect(prompt).toContain('"name": "get_weather"');
    // What the template writes for the assistant's call is what the parser reads as that call.
    const written = /<\|im_start\|>assistant\n([\s\S]*?)<\|im_end\|>/.exec(prompt)?.[1] as string;
    expect(hermes.parse(written)?.calls).toEqual([{ name: 'get_weather', arguments: { city: '巴黎' } }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
