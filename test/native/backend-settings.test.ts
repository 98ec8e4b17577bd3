import { afterEach, expect, test } from 'vitest';
import { loadModel, OptionError, runtimeInfo } from '@org/torch-gen';
import { fixture } from '../helpers.js';

// libtorch's kernel choices (native/core/backend_settings.h) are process-wide: this file has its own process.
afterEach(() => {
  delete process.env.TORCH_GEN_JIT_EXECUTOR;
  delete process.env.TORCH_GEN_SDPA;
  delete process.env.TORCH_GEN_GPU_FUSER;
});

test('runtimeInfo reports the TorchScript executor, the fusers and the CUDA attention backends', () => {
  const { backend, cudaGraphsBuilt } = runtimeInfo();
  expect(['profiling', 'simple', 'legacy']).toContain(backend.executor);
  expect(typeof backend.gpuFuser).toBe('boolean');
  expect(typeof backend.cpuFuser).toBe('boolean');
  expect(backend.sdpa.length).toBeGreaterThan(0);
  expect(backend.sdpa.every((name) => ['cudnn', 'flash', 'efficient', 'math'].includes(name))).toBe(true);
  expect(typeof cudaGraphsBuilt).toBe('boolean');
});

test('loading a CPU model leaves every choice as it was; the CUDA ones are made for CUDA models only', async () => {
  const before = runtimeInfo().backend;
  const model = await loadModel(fixture('faulty-kv'), { device: 'cpu' });
  await model.dispose();
  expect(runtimeInfo().backend).toEqual(before);
});

test('TORCH_GEN_JIT_EXECUTOR forces the executor for diagnosis, and a value it does not know is an OptionError', async () => {
  process.env.TORCH_GEN_JIT_EXECUTOR = 'simple';
  const model = await loadModel(fixture('faulty-kv'), { device: 'cpu' });
  expect(runtimeInfo().backend.executor).toBe('simple');
  expect((await model.complete([1], { maxTokens: 3, temperature: 0 })).tokenIds).toEqual([2, 3, 4]);
  await model.dispose();
  process.env.TORCH_GEN_JIT_EXECUTOR = 'fast';
  const error = await loadModel(fixture('faulty-kv'), { device: 'cpu' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OptionError);
  expect((error as Error).message).toMatch(/TORCH_GEN_JIT_EXECUTOR: expected profiling, simple or legacy, received 'fast'$/);
});
