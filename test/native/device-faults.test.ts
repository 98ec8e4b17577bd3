import { afterEach, describe, expect, test } from 'vitest';
import { DeviceError, GenerationError, loadModel, OutOfMemoryError, type Model } from '@org/torch-gen';
import { counting, FAULTY, run } from '../faulty-kv.js';
import { defaultModelDir, fixture } from '../helpers.js';

// What a GPU run can meet, driven on the CPU through the faulty-kv fixture (test/faulty-kv.ts), whose
// -load-* variants fail the load-time check with a CUDA out-of-memory error and a sticky CUDA error.
const CUDA_ERROR_TOKEN = FAULTY.cudaError;
const CUDA_OOM_TOKEN = FAULTY.cudaOom;
const NAN_TOKEN = FAULTY.nan;
const SLOW_TOKEN = FAULTY.slow;
const STICKY = /CUDA error: an illegal memory access was encountered; this CUDA error leaves the GPU unusable in this process, so every request on it fails: restart the process \(CUDA_LAUNCH_BLOCKING=1 names the failing kernel\)$/;

describe('CUDA faults inside the engine', () => {
  let model: Model | undefined;
  afterEach(async () => {
    await model?.dispose();
    model = undefined;
  });

  test('a sticky CUDA error fails every request with a DeviceError naming the error, and the model refuses new ones', async () => {
    model = await loadModel(fixture('faulty-kv'), { device: 'cpu', maxBatch: 4 });
    // Sent while a slow request is prefilled, both are admitted in one step and decode side by side.
    const [, poisoned, neighbour] = await Promise.all([
      run(model, [SLOW_TOKEN], 1), run(model, [CUDA_ERROR_TOKEN - 3], 12), run(model, [10], 12),
    ]);
    // The neighbour decodes beside the poisoned request, or (when this busy machine delays its submission
    // past the failure) is refused by the dead engine: either way a DeviceError naming the sticky error.
    for (const [{ error }, prefix] of [[poisoned, ''], [neighbour, '(generate: the model cannot run any more: )?']] as const) {
      expect(error).toBeInstanceOf(DeviceError);
      // The error's own line, not libtorch's advice after it ("Compile with `TORCH_USE_CUDA_DSA`...").
      expect((error as Error).message).toMatch(new RegExp(`^${prefix}decode step failed: ${STICKY.source}`));
      expect((error as Error).message).not.toMatch(/TORCH_USE_CUDA_DSA|asynchronously reported/);
    }
    expect(poisoned.ids).toEqual(counting(CUDA_ERROR_TOKEN - 3, 3));
    const after = await run(model, [1], 4);
    expect(after.error).toBeInstanceOf(DeviceError);
    expect((after.error as Error).message).toMatch(new RegExp(`^generate: the model cannot run any more: decode step failed: ${STICKY.source}`));
    expect(model.stats().activeRequests).toBe(0);
  });

  test('a sticky CUDA error while prefilling ends the engine the same way', async () => {
    model = await loadModel(fixture('faulty-kv'), { device: 'cpu', maxBatch: 4 });
    const failed = await run(model, [5, CUDA_ERROR_TOKEN, 7], 4);
    expect(failed.error).toBeInstanceOf(DeviceError);
    expect((failed.error as Error).message).toMatch(new RegExp(`^prefill failed: ${STICKY.source}`));
    await expect(model.complete([1], { maxTokens: 2 })).rejects.toThrow(/^generate: the model cannot run any more: prefill failed/);
  });

  test('CUDA out of memory inside a step is an OutOfMemoryError for its request only', async () => {
    model = await loadModel(fixture('faulty-kv'), { device: 'cpu', maxBatch: 4 });
    const [starved, neighbour] = await Promise.all([run(model, [CUDA_OOM_TOKEN - 3], 12), run(model, [50], 12)]);
    expect(starved.error).toBeInstanceOf(OutOfMemoryError);
    expect((starved.error as Error).message).toMatch(/^decode step failed: .*CUDA out of memory\. Tried to allocate 20\.00 GiB/);
    expect(starved.ids).toEqual(counting(CUDA_OOM_TOKEN - 3, 3));
    expect(neighbour).toEqual({ ids: counting(50, 12) });
    // Not sticky: the engine serves the next request.
    expect(await run(model, [1], 3)).toEqual({ ids: counting(1, 3) });
  });

  test('a NaN a finished request left in its cache slot does not reach the next request in that slot', async () => {
    model = await loadModel(fixture('faulty-kv'), { device: 'cpu', maxBatch: 4 });
    // Decodes in slot 0 and writes NaN keys at position 5, where it feeds token 250.
    const first = await run(model, [NAN_TOKEN - 5], 6);
    expect(first.ids).toEqual([...counting(NAN_TOKEN - 5, 5), 0]);
    // Sent while a slow one-token request is prefilled, the short request and then the long one are
    // admitted in one step: the short one takes slot 0 again. Beside the long one, each step attends to 21
    // positions of every slot, masking those past a row's own length, which in slot 0 include position 5.
    const long = Array.from({ length: 20 }, (_, i) => 60 + i);
    const [slow, short, beside] = await Promise.all([run(model, [SLOW_TOKEN], 1), run(model, [10], 8), run(model, long, 4)]);
    expect(slow).toEqual({ ids: [SLOW_TOKEN + 1] });
    expect(short).toEqual({ ids: counting(10, 8) });
    expect(beside).toEqual({ ids: counting(79, 4) });
  });
});

describe('CUDA faults while loading', () => {
  test('CUDA out of memory in the load-time check is an OutOfMemoryError, not the manifest\'s fault', async () => {
    const load = loadModel(fixture('faulty-kv-load-oom'), { device: 'cpu' });
    await expect(load).rejects.toBeInstanceOf(OutOfMemoryError);
    await expect(loadModel(fixture('faulty-kv-load-oom'), { device: 'cpu' })).rejects.toThrow(
      /the load-time check ran out of memory \(.*CUDA out of memory\. Tried to allocate 20\.00 GiB.*\); free memory on the device, lower maxContext, or use a smaller model$/,
    );
  });

  test('a CUDA error in the load-time check is a DeviceError with the error\'s own line', async () => {
    const error = await loadModel(fixture('faulty-kv-load-cuda'), { device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as Error).message).toMatch(
      /the load-time check failed on the device \(CUDA error: an illegal memory access was encountered\); this error leaves the GPU unusable in this process: restart it/,
    );
    expect((error as Error).message).not.toMatch(/TORCH_USE_CUDA_DSA|torch-gen\.json/);
    expect(error).not.toBeInstanceOf(GenerationError);
  });
});

describe('the KV-cache memory check', () => {
  afterEach(() => {
    delete process.env.TORCH_GEN_TEST_FREE_MEMORY;
  });

  // TORCH_GEN_TEST_FREE_MEMORY replaces the free-memory reading (the driver's on a GPU, MemAvailable on the
  // CPU): the check that follows it is the same on both.
  test('a cache that does not fit in 90% of the free memory is refused at load, one that does loads', async () => {
    process.env.TORCH_GEN_TEST_FREE_MEMORY = String(300 * 2 ** 20);
    // SmolLM2-135M in float32: 30 layers x 3 kv heads x 64 x 2048 positions x 2 (keys, values) x 4 bytes = 90 MiB a slot.
    await expect(loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 2048 })).rejects.toThrow(
      /: loading the model failed: the KV cache needs 360 MiB \(4 slots of 2048 tokens\) but only 300 MiB of memory is available on cpu; lower maxBatch or maxContext$/,
    );
    const fits = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 2, maxContext: 2048 });
    expect(fits.stats().cacheBytes).toBe(180 * 2 ** 20);
    await fits.dispose();
  });
});
