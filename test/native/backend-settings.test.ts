import { afterEach, expect, test } from 'vitest';
import { loadModel, OptionError, runtimeInfo } from '@org/torch-gen';
import { fixture } from '../helpers.js';

// libtorch's kernel choices (native/core/backend_settings.h) are process-wide: this file has its own process.
afterEach(() => {
  delete process.env.TORCH_GEN_JIT_EXECUTOR;
  delete process.env.TORCH_GEN_SDPA;
  delete process.env.TORCH_GEN_GPU_FUSER;
  delete process.env.TORCH_GEN_ONEDNN_LINEAR;
});

test('runtimeInfo reports the TorchScript executor, the fusers and the CUDA attention backends', () => {
  const { backend, cudaGraphsBuilt } = runtimeInfo();
  expect(['profiling', 'simple', 'legacy']).toContain(backend.executor);
  expect(typeof backend.gpuFuser).toBe('boolean');
  expect(typeof backend.cpuFuser).toBe('boolean');
  expect(backend.sdpa.length).toBeGreaterThan(0);
  expect(backend.sdpa.every((name) => ['cudnn', 'flash', 'efficient', 'math'].includes(name))).toBe(true);
  expect(typeof cudaGraphsBuilt).toBe('boolean');
  expect(typeof backend.onednnLinear).toBe('boolean');
});

test('loading a CPU model leaves every choice as it was (the CUDA ones are made for CUDA models only) but oneDNN\'s cap, which it fixes', async () => {
  const { onednnIsaCap: capBefore, ...before } = runtimeInfo().backend;
  const fromEnvironment = Boolean(process.env.ONEDNN_MAX_CPU_ISA || process.env.DNNL_MAX_CPU_ISA);
  if (!fromEnvironment) expect(capBefore).toEqual({ value: null, source: null });
  const model = await loadModel(fixture('faulty-kv'), { device: 'cpu' });
  await model.dispose();
  const { onednnIsaCap: capAfter, ...after } = runtimeInfo().backend;
  expect(after).toEqual(before);
  // The first CPU load fixed it for the process (onednn-isa-cap.test.ts): AVX2 on AMD Zen 4, else none.
  if (!fromEnvironment) {
    expect([null, 'AVX2']).toContain(capAfter.value);
    expect(capAfter.source).toBe(capAfter.value === null ? null : 'torch-gen');
  }
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

test('TORCH_GEN_ONEDNN_LINEAR=off keeps libtorch\'s linear layers on the CPU, reported by runtimeInfo; a bad value is an OptionError', async () => {
  const load = () => loadModel(fixture('llama-kv'), { device: 'cpu', dtype: 'float32' });
  const prompt = [1, 2, 3, 4];
  const withOneDnn = await load();
  expect(runtimeInfo().backend.onednnLinear).toBe(true);
  expect(withOneDnn.info.graphOptimization).toMatch(/oneDNN linear layers/);
  const reference = (await withOneDnn.complete(prompt, { maxTokens: 8, temperature: 0 })).tokenIds;
  await withOneDnn.dispose();
  process.env.TORCH_GEN_ONEDNN_LINEAR = 'off';
  const without = await load();
  expect(runtimeInfo().backend.onednnLinear).toBe(false);
  expect(without.info.graphOptimization).toBe('frozen');
  // The same model either way (FP32: the two kernels' rounding does not move a greedy token here).
  expect((await without.complete(prompt, { maxTokens: 8, temperature: 0 })).tokenIds).toEqual(reference);
  await without.dispose();
  process.env.TORCH_GEN_ONEDNN_LINEAR = 'maybe';
  const error = await load().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OptionError);
  expect((error as Error).message).toMatch(/TORCH_GEN_ONEDNN_LINEAR: expected on, off, 1 or 0, received 'maybe'$/);
  // The next load without the variable turns them back on.
  delete process.env.TORCH_GEN_ONEDNN_LINEAR;
  await (await load()).dispose();
  expect(runtimeInfo().backend.onednnLinear).toBe(true);
});
