import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GenerationError, loadModel, OutOfMemoryError, type Model } from '@org/torch-gen';
import { counting, FAULTY, run } from '../faulty-kv.js';
import { fixture } from '../helpers.js';

// Each test knows which request a fault concerns and when it strikes (test/faulty-kv.ts).
const FAIL_TOKEN = FAULTY.fail;
const OOM_TOKEN = FAULTY.oom;

describe('faults inside the engine', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('faulty-kv'), { device: 'cpu', maxBatch: 4 });
  });
  afterAll(() => model.dispose());

  test('a tensor error in a batched decode step fails only the request that fed the bad token', async () => {
    // Feeds 96 in its prompt, then 97, 98, 99 and 100 in decode steps beside the two others.
    const [poisoned, first, second] = await Promise.all([run(model, [96], 12), run(model, [10], 12), run(model, [30], 12)]);
    expect(poisoned.error).toBeInstanceOf(GenerationError);
    expect((poisoned.error as GenerationError).code).toBe('ERR_GENERATION');
    expect((poisoned.error as Error).message).toMatch(/decode step failed: .*fed token 100/);
    expect(poisoned.ids).toEqual(counting(96, FAIL_TOKEN - 96));  // 97..100: sampled before the fault
    expect(first).toEqual({ ids: counting(10, 12) });
    expect(second).toEqual({ ids: counting(30, 12) });
  });

  test('out of memory inside a step is an OutOfMemoryError for its request only', async () => {
    const [starved, neighbour] = await Promise.all([run(model, [197], 12), run(model, [50], 12)]);
    expect(starved.error).toBeInstanceOf(OutOfMemoryError);
    expect((starved.error as Error).message).toMatch(/can't allocate memory/);
    expect(starved.ids).toEqual(counting(197, OOM_TOKEN - 197));
    expect(neighbour).toEqual({ ids: counting(50, 12) });
  });

  test('a fault while prefilling a prompt fails that request alone', async () => {
    const [bad, good] = await Promise.all([run(model, [5, FAIL_TOKEN, 7], 4), run(model, [60], 4)]);
    expect(bad.error).toBeInstanceOf(GenerationError);
    expect((bad.error as Error).message).toMatch(/prefill failed: .*fed token 100/);
    expect(bad.ids).toEqual([]);
    expect(good).toEqual({ ids: counting(60, 4) });
  });

  test('a lone request that faults fails, and the engine serves the next ones with every slot free', async () => {
    const lone = await run(model, [98], 8);
    expect(lone.error).toBeInstanceOf(GenerationError);
    expect(await run(model, [1], 5)).toEqual({ ids: counting(1, 5) });
    const stats = model.stats();
    expect(stats.activeRequests).toBe(0);
    expect(stats.queuedRequests).toBe(0);
    // Faulted requests count as finished like any other.
    expect(stats.requestsFinished).toBeGreaterThanOrEqual(9);
  });

  test('GPU memory statistics and CUDA graphs are inert on the CPU', () => {
    expect(model.stats()).toMatchObject({
      deviceAllocatedBytes: 0, devicePeakBytes: 0, deviceReservedBytes: 0, cudaGraphsCaptured: 0, cudaGraphsOff: null,
    });
  });
});
