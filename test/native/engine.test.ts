import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, QueueFullError, type Completion, type GenerationChunk, type Model } from '@org/torch-gen';
import { defaultModelDir, fixture, measureEventLoopLag, readExpected, waitFor } from '../helpers.js';

const expected = readExpected('llama-kv');

/** Deterministic prompts of varied lengths (a small LCG, so every run asks the same). */
function randomPrompts(count: number, vocab: number, seed = 1): number[][] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => Array.from({ length: 3 + (next() % 40) }, () => 1 + (next() % (vocab - 1))));
}

async function firstChunk(stream: AsyncGenerator<GenerationChunk>) {
  const first = await stream.next();
  return first.value as GenerationChunk;
}

// The same weights as TorchScript (model.pt) and as an AOTInductor package (model.pt2): the engine, the KV
// cache pool and the scheduler must not see the difference. Both in one process: the package needs oneDNN's
// AVX-512 kernels, which a float32 TorchScript model loaded first would leave out on AMD Zen 4 (the first
// CPU load fixes oneDNN's instruction set for the process: native/core/onednn_isa.h), so this file keeps them.
process.env.ONEDNN_MAX_CPU_ISA = 'ALL';
const FORMATS = ['llama-kv', 'llama-kv-aoti'];

describe.each(FORMATS)('continuous batching: %s', (name) => {
  test('32 concurrent greedy requests each give exactly the tokens they give alone (FP32)', async () => {
    const prompts = [...expected.prompts.map((p) => p.prompt_ids), ...randomPrompts(27, 384)];
    const model = await loadModel(fixture(name), { device: 'cpu', maxBatch: 16, prefillChunk: 16 });
    try {
      const alone: Completion[] = [];
      for (const [i, prompt] of prompts.entries()) alone.push(await model.complete(prompt, { maxTokens: 20 + (i % 13) }));
      const together = await Promise.all(prompts.map((prompt, i) => model.complete(prompt, { maxTokens: 20 + (i % 13) })));
      together.forEach((result, i) => expect(result.tokenIds, `request ${i}`).toEqual(alone[i]!.tokenIds));
      const stats = model.stats();
      expect(stats).toMatchObject({ activeRequests: 0, queuedRequests: 0, requestsFinished: 64 });
      expect(stats.tokensGenerated).toBe(2 * alone.reduce((sum, r) => sum + r.tokenIds.length, 0));
    } finally {
      await model.dispose();
    }
  });

  test('prompts prefilled in chunks give the same tokens as transformers', async () => {
    const model = await loadModel(fixture(name), { device: 'cpu', maxBatch: 3, prefillChunk: 5 });
    try {
      const results = await Promise.all(expected.prompts.map((p) => model.complete(p.prompt_ids, { maxTokens: 64 })));
      results.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i]!.generated_ids));
      expect(model.stats().promptTokens).toBe(expected.prompts.reduce((sum, p) => sum + p.prompt_ids.length, 0));
    } finally {
      await model.dispose();
    }
  });

  test('a running request keeps getting tokens while a long prompt is prefilled in chunks', async () => {
    const model = await loadModel(fixture(name), { device: 'cpu', maxBatch: 2, prefillChunk: 8 });
    try {
      const running = model.generate(expected.prompts[1]!.prompt_ids, { maxTokens: 100000 });
      await firstChunk(running);
      const longPrompt = randomPrompts(1, 384, 7)[0]!.concat(...randomPrompts(6, 384, 9)).slice(0, 200);
      let tokensMeanwhile = 0;
      let prefillDone = false;
      const long = model.complete(longPrompt, { maxTokens: 1 }).then((result) => {
        prefillDone = true;
        return result;
      });
      for await (const chunk of running) {
        if (prefillDone) break;
        tokensMeanwhile += chunk.tokenIds.length;
      }
      await long;
      // 200 prompt tokens in chunks of 8 take 25 engine steps; each step also decodes the running request.
      expect(tokensMeanwhile).toBeGreaterThanOrEqual(20);
    } finally {
      await model.dispose();
    }
  });
});

describe.each(FORMATS)('queue and slots: %s', (name) => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture(name), { device: 'cpu', maxBatch: 1, maxQueue: 2 });
  });
  afterAll(() => model.dispose());

  test('requests beyond maxBatch wait; beyond maxQueue they are refused with QueueFullError', async () => {
    const first = model.generate(expected.prompts[1]!.prompt_ids, { maxTokens: 100000 });
    await firstChunk(first); // admitted: it holds the only slot
    const waiting = [model.complete('a', { maxTokens: 3 }), model.complete('b', { maxTokens: 3 })];
    await waitFor(() => model.stats().queuedRequests === 2, 5000, 'two requests to queue');
    expect(model.stats()).toMatchObject({ activeRequests: 1, queuedRequests: 2, maxBatch: 1 });
    // Refused at the call: generate() queues the request before returning, so the refusal comes first.
    expect(() => model.generate('c', { maxTokens: 3 })).toThrow(QueueFullError);
    const refused = model.complete('c', { maxTokens: 3 });
    await expect(refused).rejects.toThrow(QueueFullError);
    await expect(model.complete('c', { maxTokens: 3 })).rejects.toThrow(
      "the queue is full: 2 requests are waiting for the model's 1 slots; retry later, or raise maxQueue or maxBatch",
    );
    await first.return(undefined); // breaking out frees the slot
    const done = await Promise.all(waiting);
    expect(done.map((r) => r.tokenIds.length)).toEqual([3, 3]);
    await waitFor(() => model.stats().activeRequests === 0, 5000, 'the slots to free');
    expect(model.stats()).toMatchObject({ activeRequests: 0, queuedRequests: 0 });
  });

  test('maxQueue 0 still takes requests while slots are free, and refuses the rest at once', async () => {
    const noQueue = await loadModel(fixture(name), { device: 'cpu', maxBatch: 2, maxQueue: 0 });
    try {
      const first = noQueue.generate(expected.prompts[1]!.prompt_ids, { maxTokens: 100000 });
      const second = noQueue.generate(expected.prompts[2]!.prompt_ids, { maxTokens: 100000 });
      await Promise.all([firstChunk(first), firstChunk(second)]);
      await expect(noQueue.complete('c', { maxTokens: 3 })).rejects.toThrow(QueueFullError);
      await first.return(undefined);
      await second.return(undefined);
      await waitFor(() => noQueue.stats().activeRequests === 0, 5000, 'the slots to free');
      expect((await noQueue.complete('c', { maxTokens: 3 })).tokenIds).toHaveLength(3);
    } finally {
      await noQueue.dispose();
    }
  });

  test('an aborted request frees its slot: stats show it and the next request runs', async () => {
    const controller = new AbortController();
    const stream = model.generate(expected.prompts[2]!.prompt_ids, { maxTokens: 100000, signal: controller.signal });
    await firstChunk(stream);
    expect(model.stats().activeRequests).toBe(1);
    controller.abort();
    let last: GenerationChunk | undefined;
    for await (const chunk of stream) last = chunk;
    expect(last?.finishReason).toBe('abort');
    await waitFor(() => model.stats().activeRequests === 0, 5000, 'the slot to free');
    expect(model.stats().activeRequests).toBe(0);
    const next = await model.complete(expected.prompts[3]!.prompt_ids, { maxTokens: 64 });
    expect(next.tokenIds).toEqual(expected.prompts[3]!.generated_ids);
  });

  test('the cache is allocated once at load: maxBatch x maxContext slots of keys and values', () => {
    const { numLayers, numKvHeads, headDim, maxContext } = model.info;
    expect(model.stats().cacheBytes).toBe(2 * numLayers * 1 * numKvHeads * maxContext * headDim * 4);
  });
});

describe('several models in one process', () => {
  test('two models generate at the same time, each with its own exact tokens', async () => {
    const [gpt2, qwen2] = await Promise.all([
      loadModel(fixture('gpt2-kv'), { device: 'cpu' }),
      loadModel(fixture('qwen2-kv'), { device: 'cpu' }),
    ]);
    try {
      const runs = (['gpt2-kv', 'qwen2-kv'] as const).flatMap((name, m) =>
        readExpected(name).prompts.map(async (p) => {
          const model = m === 0 ? gpt2 : qwen2;
          expect((await model.complete(p.prompt_ids, { maxTokens: 64 })).tokenIds).toEqual(p.generated_ids);
        }),
      );
      await Promise.all(runs);
    } finally {
      await Promise.all([gpt2.dispose(), qwen2.dispose()]);
    }
  });
});

test('event-loop lag stays under 10 ms (p99) while 16 requests generate on SmolLM2', async () => {
  const model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 16, maxContext: 256 });
  try {
    const prompts = randomPrompts(16, 49152, 3);
    const { result, p99Ms, maxMs } = await measureEventLoopLag(() =>
      Promise.all(prompts.map((prompt) => model.complete(prompt, { maxTokens: 24 }))),
    );
    expect(result.every((r) => r.tokenIds.length === 24 || r.finishReason === 'stop')).toBe(true);
    console.log(`16 requests on SmolLM2: event-loop lag p99 ${p99Ms.toFixed(2)} ms, max ${maxMs.toFixed(2)} ms`);
    expect(p99Ms).toBeLessThan(10);
  } finally {
    await model.dispose();
  }
});

test('a KV cache larger than the available memory is refused at load with OutOfMemoryError', async () => {
  const load = loadModel(defaultModelDir, { device: 'cpu', maxBatch: 1024, maxContext: 2048 });
  await expect(load).rejects.toMatchObject({ name: 'OutOfMemoryError', code: 'ERR_OUT_OF_MEMORY' });
  await expect(loadModel(defaultModelDir, { device: 'cpu', maxBatch: 1024, maxContext: 2048 })).rejects.toThrow(
    /the KV cache needs 92160 MiB \(1024 slots of 2048 tokens\) but only \d+ MiB of memory is available on cpu; lower maxBatch or maxContext$/,
  );
});
