// Tool calls in the library on random-weight Qwen2 models whose chat templates define a tool-call format
// (Hermes/Qwen2.5 style, Llama 3 style). Their replies are forced with a regex responseFormat into that
// format, and the calls must come out of them; the constrained tool choices and their refusals, too.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, OptionError, type ChatChunk, type Model, type ToolDefinition } from '@org/torch-gen';
import { copyFixture, editManifest, waitFor } from '../helpers.js';

const templates = resolve(import.meta.dirname, '..', 'fixtures', 'tool-templates');

/** qwen2-kv with `template` as its chat template, and room for a prompt that lists tools. */
async function qwenWith(template: string): Promise<{ model: Model; cleanup: () => void }> {
  const copy = copyFixture('qwen2-kv');
  // RoPE has no position table: a longer context than the fixture's 256 only sizes the cache.
  editManifest(copy.dir, (manifest) => (manifest.max_context = 1024));
  const configPath = join(copy.dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  config.chat_template = readFileSync(join(templates, template, 'chat_template.jinja'), 'utf8');
  writeFileSync(configPath, JSON.stringify(config));
  return { model: await loadModel(copy.dir, { device: 'cpu', maxBatch: 2 }), cleanup: copy.cleanup };
}

const weather: ToolDefinition = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const messages = [{ role: 'user', content: 'Weather in Paris?' }];
/** A regex that matches `text` and nothing else. */
const exactly = (text: string) => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

let hermes: { model: Model; cleanup: () => void };
let llama3: { model: Model; cleanup: () => void };
let mistral: { model: Model; cleanup: () => void };

beforeAll(async () => {
  [hermes, llama3, mistral] = await Promise.all([qwenWith('hermes-tools'), qwenWith('llama3-tools'), qwenWith('mistral-tools')]);
});

afterAll(async () => {
  await Promise.all([hermes?.model.dispose(), llama3?.model.dispose(), mistral?.model.dispose()]);
  for (const model of [hermes, llama3, mistral]) model?.cleanup();
});

async function drain(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe("toolChoice 'auto' reads the model's own format", () => {
  test('Hermes/Qwen <tool_call>: the content before the call is text, the call is a toolCall', async () => {
    const reply = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    const result = await hermes.model.chat(messages, { tools: [weather], maxTokens: 200, responseFormat: { type: 'regex', pattern: exactly(reply) } });
    expect(result.finishReason).toBe('tool_calls');
    expect(result.text).toBe('Sure.');
    expect(result.toolCalls).toEqual([{ id: expect.stringMatching(/^call_[\w-]{24}$/), type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(result.message).toEqual({ role: 'assistant', content: 'Sure.', tool_calls: result.toolCalls });
  });

  test('streamed: the call never shows in the text, its deltas add up to it, the last chunk says tool_calls', async () => {
    const reply = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "巴黎"}}\n</tool_call>';
    const chunks = await drain(hermes.model.streamChat(messages, { tools: [weather], maxTokens: 200, responseFormat: { type: 'regex', pattern: exactly(reply) } }));
    expect(chunks.map((chunk) => chunk.text).join('')).toBe('');
    const deltas = chunks.flatMap((chunk) => chunk.toolCalls ?? []);
    expect(deltas).toEqual([
      { index: 0, id: expect.any(String), type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 0, function: { arguments: '{"city":"巴黎"}' } },
    ]);
    expect(chunks.at(-1)?.finishReason).toBe('tool_calls');
  });

  test('Llama 3 JSON after <|python_tag|>: the whole reply is the call', async () => {
    const reply = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}';
    const result = await llama3.model.chat(messages, { tools: [weather], maxTokens: 200, responseFormat: { type: 'regex', pattern: exactly(reply) } });
    expect(result).toMatchObject({ text: '', finishReason: 'tool_calls', toolCalls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] });
  });

  test("Mistral [TOOL_CALLS]: two calls, with the nine-character ids its template insists on, which render back", async () => {
    const reply = '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]';
    const result = await mistral.model.chat(messages, { tools: [weather], maxTokens: 200, responseFormat: { type: 'regex', pattern: exactly(reply) } });
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls?.map((call) => call.function.arguments)).toEqual(['{"city":"Paris"}', '{"city":"Oslo"}']);
    expect(result.toolCalls?.every((call) => /^[A-Za-z0-9]{9}$/.test(call.id))).toBe(true);
    // The reply goes back into the conversation, with a result per call: the template takes the ids.
    const [first, second] = result.toolCalls!;
    const next = [
      ...messages,
      result.message,
      { role: 'tool', tool_call_id: first!.id, content: '21' },
      { role: 'tool', tool_call_id: second!.id, content: '12' },
    ];
    expect(mistral.model.chatPromptIds(next, { tools: [weather] }).length).toBeGreaterThan(0);
  });

  test('a reply that is not a call is text, with the finish reason it had', async () => {
    const result = await hermes.model.chat(messages, { tools: [weather], maxTokens: 6, temperature: 0 });
    expect(result.toolCalls).toBeUndefined();
    expect(result.finishReason).toBe('length');
    const plain = await hermes.model.complete(hermes.model.chatPromptIds(messages, { tools: [weather] }), { maxTokens: 6, temperature: 0 });
    expect(result.text).toBe(plain.text);
  });
});

describe('constrained tool choices', () => {
  test('a named function: the reply is its arguments, matching its parameters', async () => {
    const result = await hermes.model.chat(messages, { tools: [weather], toolChoice: { type: 'function', function: { name: 'get_weather' } }, maxTokens: 100, temperature: 1, seed: 3 });
    expect(result.text).toBe('');
    expect(result.toolCalls).toHaveLength(1);
    if (result.finishReason === 'tool_calls') expect(typeof JSON.parse(result.toolCalls![0]!.function.arguments).city).toBe('string');
    else expect(result.finishReason).toBe('length');
  });

  test('responseFormat cannot be combined with a constraining toolChoice', () => {
    expect(() => hermes.model.streamChat(messages, { tools: [weather], toolChoice: 'required', responseFormat: { type: 'json_object' } })).toThrow(
      expect.objectContaining({
        name: 'OptionError',
        option: 'responseFormat',
        message: "responseFormat: cannot be combined with toolChoice 'required' or a named function, which constrain the reply to a call themselves",
      }),
    );
  });

  test("parameters the grammar engine cannot compile are an OptionError naming the tool's parameters", async () => {
    const bad: ToolDefinition = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'string', pattern: '(?<=a)b' } } } } };
    for (const toolChoice of [{ type: 'function', function: { name: 'f' } } as const, 'required' as const]) {
      const error = await drain(hermes.model.streamChat(messages, { tools: [weather, bad], toolChoice, maxTokens: 4 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OptionError);
      expect(error).toMatchObject({ option: 'tools' });
      expect((error as Error).message).toMatch(/^tools\[1\]\.function\.parameters\/properties\/x: the grammar engine cannot compile this schema: /);
    }
  });

  test('breaking out of a constrained streamChat, or returning before the first chunk, frees the slot', async () => {
    const options = { tools: [weather], toolChoice: 'required' as const, maxTokens: 100 };
    for await (const _chunk of hermes.model.streamChat(messages, options)) break;
    const unread = hermes.model.streamChat(messages, options);
    await unread.return(undefined);
    await waitFor(() => hermes.model.stats().activeRequests === 0 && hermes.model.stats().queuedRequests === 0, 5000, 'the slots to be freed');
  });
});
