import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from '@org/torch-gen';
import { device, fixtureDir, onCuda, readReferences } from './helpers.js';

// The engine's contracts on the test device: seeded sampling, slots freed by abort and break, device memory
// reported, and CUDA-graph decoding equal to the plain one. One fixture is enough: none of this depends on
// the architecture.
const FIXTURE = 'llama-kv';
const prompts = readReferences().fixtures[FIXTURE]!.prompts;
const SAMPLING = { temperature: 0.9, topK: 50, topP: 0.95, maxTokens: 48 };

describe('sampling with a seed', () => {
  test('is reproducible in float16: the same seed gives the same tokens, another seed others', async () => {
    await using model = await loadModel(fixtureDir(FIXTURE), { device, dtype: 'float16', maxBatch: 2, maxContext: 256 });
    const first = await model.complete(prompts[1]!.prompt_ids, { ...SAMPLING, seed: 42 });
    const again = await model.complete(prompts[1]!.prompt_ids, { ...SAMPLING, seed: 42 });
    const other = await model.complete(prompts[1]!.prompt_ids, { ...SAMPLING, seed: 43 });
    expect(again.tokenIds).toEqual(first.tokenIds);
    expect(other.tokenIds).not.toEqual(first.tokenIds);
  });

  test('gives the same tokens alone and beside 3 other requests (float32)', async () => {
    // float32: beside others the step runs at another batch size, whose half-precision kernels may round
    // differently and move a sample across a boundary; float32 rounding is far too small for that.
    await using model = await loadModel(fixtureDir(FIXTURE), { device, dtype: 'float32', maxBatch: 4, maxContext: 256 });
    const alone = await model.complete(prompts[2]!.prompt_ids, { ...SAMPLING, seed: 7 });
    const [together] = await Promise.all([
      model.complete(prompts[2]!.prompt_ids, { ...SAMPLING, seed: 7 }),
      ...[0, 1, 3].map((i) => model.complete(prompts[i]!.prompt_ids, { ...SAMPLING, seed: 100 + i })),
    ]);
    expect(together!.tokenIds).toEqual(alone.tokenIds);
  });
});

describe('slots', () => {
  let model: Model;
  beforeAll(async () => {
    // One slot: a request that kept it would make the next one wait forever (the test would time out).
    model = await loadModel(fixtureDir(FIXTURE), { device, maxBatch: 1, maxContext: 256 });
  });
  afterAll(() => model.dispose());

  test('aborting a request mid-generation ends it with "abort" and frees its slot', async () => {
    const controller = new AbortController();
    let chunks = 0;
    let finishReason;
    for await (const chunk of model.generate(prompts[0]!.prompt_ids, { maxTokens: 200, signal: controller.signal })) {
      chunks++;
      if (chunks === 2) controller.abort();
      finishReason = chunk.finishReason ?? finishReason;
    }
    expect(finishReason).toBe('abort');
    expect(model.stats().activeRequests).toBe(0);
    const next = await model.complete(prompts[1]!.prompt_ids, { maxTokens: 8 });
    expect(next.tokenIds.length).toBeGreaterThan(0);
  });

  test('breaking out of for await frees the slot', async () => {
    for await (const chunk of model.generate(prompts[0]!.prompt_ids, { maxTokens: 200 })) {
      if (chunk.tokenIds.length > 0) break;
    }
    const next = await model.complete(prompts[1]!.prompt_ids, { maxTokens: 8 });
    expect(next.tokenIds.length).toBeGreaterThan(0);
    expect(model.stats()).toMatchObject({ activeRequests: 0, queuedRequests: 0 });
  });
});

test('the device default dtype and the memory stats', async () => {
  await using model = await loadModel(fixtureDir(FIXTURE), { device, maxBatch: 2, maxContext: 256 });
  await model.complete(prompts[0]!.prompt_ids, { maxTokens: 8 });
  const stats = model.stats();
  expect(model.info.dtype).toBe(onCuda ? 'float16' : 'float32');
  expect(stats.weightBytes).toBeGreaterThan(0);
  expect(stats.cacheBytes).toBeGreaterThan(0);
  if (onCuda) {
    // The allocator's peak holds at least the weights and the cache; reserved memory holds at least the peak.
    expect(stats.devicePeakBytes).toBeGreaterThanOrEqual(stats.weightBytes + stats.cacheBytes);
    expect(stats.deviceReservedBytes).toBeGreaterThanOrEqual(stats.devicePeakBytes);
  }
});

test('CUDA graphs decode the same greedy tokens as the eager step, and are captured', async () => {
  const options = { device, dtype: 'float32' as const, maxBatch: 4, maxContext: 256 };
  const run = async (cudaGraphs: boolean) => {
    await using model = await loadModel(fixtureDir(FIXTURE), { ...options, cudaGraphs });
    // Alone and 4 together: the graph captured for batch 1 and the one for batch 4.
    const alone = await model.complete(prompts[0]!.prompt_ids, { maxTokens: 64 });
    const together = await Promise.all(prompts.slice(0, 4).map((p) => model.complete(p.prompt_ids, { maxTokens: 64 })));
    return { ids: [alone.tokenIds, ...together.map((r) => r.tokenIds)], stats: model.stats() };
  };
  const [graphs, eager] = [await run(true), await run(false)];
  expect(graphs.ids).toEqual(eager.ids);
  if (onCuda) {
    expect(graphs.stats.cudaGraphsOff, 'the reason CUDA graphs turned off').toBeNull();
    expect(graphs.stats.cudaGraphsCaptured).toBeGreaterThanOrEqual(2);
    expect(eager.stats).toMatchObject({ cudaGraphsCaptured: 0, cudaGraphsOff: 'turned off by the cudaGraphs option' });
  } else {
    expect(graphs.stats).toMatchObject({ cudaGraphsCaptured: 0, cudaGraphsOff: null });
  }
});

test('greedy steps take their argmax inside the CUDA graph and feed the next step from the device', async () => {
  // float32: the sampler path and the argmax path read the same logits, so their tokens must be equal.
  await using model = await loadModel(fixtureDir(FIXTURE), { device, dtype: 'float32', maxBatch: 4, maxContext: 256 });
  const greedy = (logprobs: number) =>
    Promise.all(prompts.slice(0, 3).map((p) => model.complete(p.prompt_ids, { maxTokens: 48, ...(logprobs ? { logprobs } : {}) })));
  const before = model.stats().deviceFedSteps;
  const alone = await model.complete(prompts[1]!.prompt_ids, { maxTokens: 48 });
  // 48 tokens: 47 decode steps, all but the first fed from the device.
  expect(model.stats().deviceFedSteps - before).toBeGreaterThanOrEqual(46);
  // 3 rows run the graph of batch 4: a padding row, whose argmax must not leak into the rows'.
  const onDevice = await greedy(0);
  const bySampler = await greedy(1);
  expect(onDevice.map((r) => r.tokenIds)).toEqual(bySampler.map((r) => r.tokenIds));
  expect(onDevice[1]!.tokenIds).toEqual(alone.tokenIds);
  // A sampled row beside them sends the steps through the sampler; afterwards the buffer holds no argmax
  // the host knows of, and the greedy steps copy their tokens in again.
  const [mixed] = await Promise.all([
    model.complete(prompts[1]!.prompt_ids, { maxTokens: 48 }),
    model.complete(prompts[2]!.prompt_ids, { maxTokens: 24, temperature: 0.9, seed: 5 }),
  ]);
  expect(mixed!.tokenIds).toEqual(alone.tokenIds);
  if (onCuda) expect(model.stats()).toMatchObject({ cudaGraphsOff: null });
});
