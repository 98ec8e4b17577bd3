import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type ChatMessage, type Model } from '@org/torch-gen';
import { defaultModelDir, measureEventLoopLag, readExpected, type ExpectedPrompt } from '../helpers.js';

// The real SmolLM2-135M-Instruct (npm run model:default), against transformers generate() on the same
// GGUF weights (python/fixtures/smollm2_reference.py), greedy, CPU FP32.
const expected = readExpected('smollm2-reference');
const plain = expected.prompts.filter((p) => !('messages' in p));
const chats = expected.prompts.filter((p) => 'messages' in p) as (ExpectedPrompt & { messages: ChatMessage[] })[];

describe('SmolLM2-135M-Instruct', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 512 });
  });
  afterAll(() => model.dispose());

  test('is the real model, with its chat template and end-of-sequence id', () => {
    expect(model.info).toMatchObject({ architecture: 'llama', interface: 'kv-cache', vocabSize: 49152, numLayers: 30, hasChatTemplate: true });
    expect(model.info.eosTokenIds).toEqual(expected.eos_token_ids);
    // 134.5M parameters, the embedding tied to the output layer and counted once.
    expect(model.info.parameters).toBe(134_515_008);
    expect(model.stats().weightBytes).toBeGreaterThanOrEqual(134_515_008 * 4);
  });

  test.each(plain.map((p) => [p.text, p] as const))('greedy tokens equal transformers generate(): %s', async (_text, prompt) => {
    expect(model.tokenizer.encode(prompt.text)).toEqual(prompt.prompt_ids);
    const result = await model.complete(prompt.text, { maxTokens: expected.max_new_tokens });
    expect(result.tokenIds).toEqual(prompt.generated_ids);
    expect(result.text).toBe(model.tokenizer.decode(prompt.generated_ids));
  });

  test.each(chats.map((p) => [p.messages.at(-1)!.content, p] as const))(
    'chat renders the template as transformers does and replies with the same tokens: %s',
    async (_content, prompt) => {
      expect(model.chatPromptIds(prompt.messages)).toEqual(prompt.prompt_ids);
      const reply = await model.chat(prompt.messages, { maxTokens: expected.max_new_tokens });
      expect(reply.tokenIds).toEqual(prompt.generated_ids);
      expect(reply.finishReason).toBe('stop');
      expect(reply.message).toEqual({ role: 'assistant', content: model.tokenizer.decode(prompt.generated_ids.slice(0, -1)) });
    },
  );

  test('all four prompts decoding together give the same tokens as alone', async () => {
    const results = await Promise.all(
      expected.prompts.map((p) => model.complete(p.prompt_ids, { maxTokens: expected.max_new_tokens })),
    );
    results.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i]!.generated_ids));
  });

  test('streaming chat yields valid text chunks that add up to the reply', async () => {
    const prompt = chats[1]!;
    const chunks: string[] = [];
    for await (const chunk of model.streamChat(prompt.messages, { maxTokens: 64 })) chunks.push(chunk.text);
    expect(chunks.join('')).toBe(model.tokenizer.decode(prompt.generated_ids.slice(0, -1)));
    expect(chunks.some((c) => c.includes('\uFFFD'))).toBe(false);
  });
});

test('the event loop keeps running while SmolLM2 loads (seconds of work) and 4 requests generate', async () => {
  const load = await measureEventLoopLag(() => loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 256 }));
  const model = load.result;
  const generate = await measureEventLoopLag(() =>
    Promise.all(plain.concat(plain).map((p) => model.complete(p.prompt_ids, { maxTokens: 24 }))),
  );
  await model.dispose();
  console.log(`SmolLM2 event-loop lag p99: load ${load.p99Ms.toFixed(2)} ms, generate ${generate.p99Ms.toFixed(2)} ms`);
  // A forward pass of this model takes tens of milliseconds and loading it about a second: either on the
  // JavaScript thread would show here.
  expect(load.p99Ms).toBeLessThan(50);
  expect(generate.p99Ms).toBeLessThan(50);
});
