// Greedy steps pick their tokens on the device and feed the next step from there (native/core/
// device_tokens.h): on the CPU this runs the same code as on a GPU, less the CUDA graph. Whatever path a
// step takes, a request's tokens must be the ones today's sampler gives (requests with `logprobs` still go
// through it, so they are the reference), beside any other requests, to the stop token and through aborts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, runtimeInfo, type Completion, type Model } from '@org/torch-gen';
import { defaultModelDir, fixture, readExpected } from '../helpers.js';

const expected = readExpected('llama-kv');
const prompts = expected.prompts.map((p) => p.prompt_ids);

describe('greedy steps on the device (llama-kv, FP32)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('llama-kv'), { device: 'cpu', maxBatch: 4, prefillChunk: 16 });
  });
  afterAll(() => model.dispose());

  const fed = () => model.stats().deviceFedSteps;

  test("one greedy request: transformers' tokens, every step after the first fed from the device", async () => {
    const before = fed();
    const result = await model.complete(prompts[1]!, { maxTokens: 24 });
    expect(result.tokenIds).toEqual(expected.prompts[1]!.generated_ids.slice(0, 24));
    // 24 tokens: the first from the prefill, 23 decode steps; the first of those is fed from the host
    // (unless the buffer happens to hold that token already).
    expect(fed() - before).toBeGreaterThanOrEqual(22);
    expect(fed() - before).toBeLessThanOrEqual(23);
  });

  test('greedy tokens are the sampler path\'s tokens (logprobs sends a request through the sampler)', async () => {
    const greedy = await Promise.all(prompts.map((prompt) => model.complete(prompt, { maxTokens: 40 })));
    const before = fed();
    const sampled = await Promise.all(prompts.map((prompt) => model.complete(prompt, { maxTokens: 40, logprobs: 1 })));
    sampled.forEach((result, i) => expect(result.tokenIds, `prompt ${i}`).toEqual(greedy[i]!.tokenIds));
    // Their logprobs name the same token as the most likely.
    for (const result of sampled) {
      result.logprobs!.forEach((entry, j) => expect(entry.topLogprobs[0]!.tokenId).toBe(result.tokenIds[j]));
    }
    // Sampled steps feed from the host: only a step whose tokens all repeat the ones the buffer holds (a
    // token repeated, or a request's first step matching what the buffer held) counts, at most these.
    const repeats = sampled.reduce((sum, r) => sum + r.tokenIds.filter((id, j) => j > 0 && id === r.tokenIds[j - 1]).length, 0);
    expect(fed() - before).toBeLessThanOrEqual(repeats + prompts.length);
  });

  test('a batch mixing greedy and sampled requests: each gives what it gives alone', async () => {
    const options = (i: number) => (i % 2 === 0 ? { maxTokens: 30 } : { maxTokens: 30, temperature: 0.9, seed: 7 + i });
    const alone: Completion[] = [];
    for (const [i, prompt] of prompts.entries()) alone.push(await model.complete(prompt, options(i)));
    const together = await Promise.all(prompts.map((prompt, i) => model.complete(prompt, options(i))));
    together.forEach((result, i) => expect(result.tokenIds, `prompt ${i}`).toEqual(alone[i]!.tokenIds));
  });

  test("a greedy request ends at the model's end-of-sequence token as transformers' does", async () => {
    const result = await model.complete(prompts[0]!, { maxTokens: 64 });
    expect(result.tokenIds).toEqual(expected.prompts[0]!.generated_ids);  // 23 tokens, the last one EOS
    expect(result.finishReason).toBe('stop');
  });

  test('a greedy request stops at its stop token; the others in its batch go on', async () => {
    const reference = expected.prompts[1]!.generated_ids;
    const stop = reference[5]!;
    const cut = reference.indexOf(stop) + 1;
    const [stopped, ...others] = await Promise.all([
      model.complete(prompts[1]!, { maxTokens: 40, stopTokenIds: [stop] }),
      ...prompts.slice(2).map((prompt) => model.complete(prompt, { maxTokens: 40 })),
    ]);
    expect(stopped!.finishReason).toBe('stop');
    expect(stopped!.tokenIds).toEqual(reference.slice(0, cut));
    others.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i + 2]!.generated_ids.slice(0, 40)));
  });

  test('aborting a greedy request mid-stream leaves the others in its batch their tokens', async () => {
    const controller = new AbortController();
    const stream = model.generate(prompts[0]!, { maxTokens: 100000, signal: controller.signal });
    const others = prompts.slice(1).map((prompt) => model.complete(prompt, { maxTokens: 50 }));
    let received = 0;
    for await (const chunk of stream) {
      received += chunk.tokenIds.length;
      if (received >= 5) controller.abort();
      if (chunk.finishReason) expect(chunk.finishReason).toBe('abort');
    }
    const results = await Promise.all(others);
    results.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i + 1]!.generated_ids.slice(0, 50)));
    expect(model.stats()).toMatchObject({ activeRequests: 0, queuedRequests: 0 });
  });
});

// A constrained greedy row takes the device's argmax while its grammar allows it, and goes through the
// sampler (with its mask) when not: either way its tokens are the sampler path's.
describe.skipIf(runtimeInfo().grammarEngine === null)('greedy steps with a constrained row (SmolLM2)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 512 });
  });
  afterAll(() => model.dispose());

  test('a JSON request beside free ones: each gives what the sampler path gives', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const ask = (content: string, extra: object) =>
      model.chat([{ role: 'user', content }], { maxTokens: 48, ...extra });
    const run = (logprobs: object) =>
      Promise.all([
        ask('Give the name and age of a person as JSON.', { responseFormat: { type: 'json_schema', schema }, ...logprobs }),
        ask('Name three colours.', logprobs),
        ask('What is the capital of France?', logprobs),
      ]);
    const before = model.stats().deviceFedSteps;
    const greedy = await run({});
    expect(model.stats().deviceFedSteps).toBeGreaterThan(before);
    const sampled = await run({ logprobs: 1 });
    greedy.forEach((reply, i) => expect(reply.tokenIds, `request ${i}`).toEqual(sampled[i]!.tokenIds));
    expect(greedy[0]!.finishReason).toBe('stop');
    expect(JSON.parse(greedy[0]!.text)).toMatchObject({ name: expect.any(String), age: expect.any(Number) });
  }, 120_000);
});
