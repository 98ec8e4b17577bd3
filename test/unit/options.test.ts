import { describe, expect, test } from 'vitest';
import { OptionError } from '../../lib/errors.js';
import { capsBelowAvx512, environmentThreads, isAmdZen4 } from '../../lib/cpu.js';
import { DEFAULT_MAX_TOKENS, defaultThreads, onednnIsaCapFor, resolveGenerateOptions, resolveLoadOptions } from '../../lib/options.js';

const noCuda = () => false;
const withCuda = () => true;

describe('loadModel options', () => {
  test('device auto picks the CPU without CUDA and the GPU with it, with the matching default dtype', () => {
    expect(resolveLoadOptions({}, noCuda, 8192)).toEqual({ device: 'cpu', dtype: 'float32', maxBatch: 4, maxContext: 2048, maxQueue: 1024, prefillChunk: 256, cudaGraphs: true, cudaGraphBatchSizes: [1, 2, 4], threads: 1, optimizeGraph: true });
    expect(resolveLoadOptions(undefined, withCuda, 100)).toEqual({ device: 'cuda', dtype: 'float16', maxBatch: 4, maxContext: 100, maxQueue: 1024, prefillChunk: 256, cudaGraphs: true, cudaGraphBatchSizes: [1, 2, 4], threads: 1, optimizeGraph: true });
    expect(resolveLoadOptions({ device: 'cuda:1', dtype: 'bfloat16' }, noCuda, 8192)).toEqual({ device: 'cuda:1', dtype: 'bfloat16', maxBatch: 4, maxContext: 2048, maxQueue: 1024, prefillChunk: 256, cudaGraphs: true, cudaGraphBatchSizes: [1, 2, 4], threads: 1, optimizeGraph: true });
  });

  test('rejects a device of the wrong type or form, naming the option', () => {
    expect(() => resolveLoadOptions({ device: 3 }, noCuda, 8192)).toThrow(
      expect.objectContaining({ name: 'OptionError', option: 'device', message: "device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', received 3" }),
    );
    expect(() => resolveLoadOptions({ device: 'gpu' }, noCuda, 8192)).toThrow(
      "device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', received \"gpu\"",
    );
  });

  test('rejects maxBatch and maxContext out of range, maxContext bounded by the model', () => {
    expect(() => resolveLoadOptions({ maxBatch: 0 }, noCuda, 8192)).toThrow('maxBatch: expected an integer in [1, 1024], received 0');
    expect(() => resolveLoadOptions({ maxBatch: '4' }, noCuda, 8192)).toThrow('maxBatch: expected an integer in [1, 1024], received "4"');
    expect(() => resolveLoadOptions({ maxContext: 9000 }, noCuda, 8192)).toThrow(
      "maxContext: expected an integer in [2, 8192] (the model's context), received 9000",
    );
    expect(resolveLoadOptions({ maxContext: 64, maxBatch: 2 }, noCuda, 8192)).toMatchObject({ maxContext: 64, maxBatch: 2 });
  });

  test('rejects an unknown dtype and unknown keys', () => {
    expect(() => resolveLoadOptions({ dtype: 'int8' }, noCuda, 8192)).toThrow(
      "dtype: expected 'float32', 'float16', 'bfloat16' or 'auto', received \"int8\"",
    );
    expect(() => resolveLoadOptions({ devise: 'cpu' }, noCuda, 8192)).toThrow(
      'loadModel: unknown option `devise`; known options are `device`, `dtype`, `maxBatch`, `maxContext`, `maxQueue`, `prefillChunk`, `prefixCacheMiB`, `cudaGraphs`, `cudaGraphBatchSizes`, `threads`, `optimizeGraph`',
    );
    expect(() => resolveLoadOptions('cpu', noCuda, 8192)).toThrow('loadModel options: expected an options object, received "cpu"');
  });

  test('threads defaults to the physical cores it is given, and can be set', () => {
    const cpu = { cores: 6, bfloat16: false };
    expect(resolveLoadOptions({}, noCuda, 8192, cpu)).toMatchObject({ threads: 6 });
    expect(resolveLoadOptions({ threads: 2 }, noCuda, 8192, cpu)).toMatchObject({ threads: 2 });
    expect(() => resolveLoadOptions({ threads: 0 }, noCuda, 8192, cpu)).toThrow('threads: expected an integer in [1, 1024], received 0');
  });

  test("threads defaults to the environment's OMP_NUM_THREADS when set (a deployment's cap), before the cores", () => {
    const capped = { cores: 6, bfloat16: false, environmentThreads: 1 };
    expect(resolveLoadOptions({}, noCuda, 8192, capped)).toMatchObject({ threads: 1 });
    expect(resolveLoadOptions({ threads: 4 }, noCuda, 8192, capped)).toMatchObject({ threads: 4 }); // the option wins
    expect(resolveLoadOptions({}, noCuda, 8192, { ...capped, environmentThreads: null })).toMatchObject({ threads: 6 });
    expect(defaultThreads({ cores: 2, environmentThreads: 3 })).toBe(3);
  });

  test("a oneDNN instruction-set cap below AVX-512 is told apart from one that keeps it", () => {
    for (const below of ['AVX2', 'AVX2_VNNI', 'SSE41', 'AVX']) expect(capsBelowAvx512(below), below).toBe(true);
    for (const kept of [null, 'ALL', 'AVX512_CORE', 'AVX512_CORE_BF16', 'AVX10_1_512', 'AMX']) expect(capsBelowAvx512(kept), String(kept)).toBe(false);
  });

  test('oneDNN is capped at AVX2 for a float32 TorchScript kv-cache model on AMD Zen 4 only', () => {
    const float32 = { device: 'cpu', dtype: 'float32', quantized: false, aoti: false, interface: 'kv-cache' } as const;
    expect(onednnIsaCapFor(float32, { zen4: true })).toBe('AVX2');
    expect(onednnIsaCapFor(float32, { zen4: false })).toBeNull();
    expect(onednnIsaCapFor(float32, {})).toBeNull();
    // bfloat16 needs oneDNN's AVX-512 kernels, AOTInductor packages are laid out for them, int8 runs in fbgemm.
    expect(onednnIsaCapFor({ ...float32, dtype: 'bfloat16' }, { zen4: true })).toBeNull();
    expect(onednnIsaCapFor({ ...float32, aoti: true }, { zen4: true })).toBeNull();
    expect(onednnIsaCapFor({ ...float32, quantized: true }, { zen4: true })).toBeNull();
    expect(onednnIsaCapFor({ ...float32, device: 'cuda' }, { zen4: true })).toBeNull();
    // A logits model recomputes the whole sequence every step: many-row products, where AVX2 is slower.
    expect(onednnIsaCapFor({ ...float32, interface: 'logits' }, { zen4: true })).toBeNull();
  });

  test('AMD Zen 4 is told from /proc/cpuinfo: AuthenticAMD, family 25, with AVX-512', () => {
    const cpuinfo = (vendor: string, family: string, flags: string) =>
      `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: 17\nflags\t\t: fpu ${flags} sse\n\nprocessor\t: 1\nvendor_id\t: ${vendor}\n`;
    expect(isAmdZen4(cpuinfo('AuthenticAMD', '25', 'avx2 avx512f avx512_bf16'))).toBe(true);
    expect(isAmdZen4(cpuinfo('AuthenticAMD', '25', 'avx2'))).toBe(false); // Zen 3: no AVX-512
    expect(isAmdZen4(cpuinfo('AuthenticAMD', '26', 'avx2 avx512f'))).toBe(false); // Zen 5: full-width AVX-512
    expect(isAmdZen4(cpuinfo('GenuineIntel', '6', 'avx2 avx512f avx512_bf16'))).toBe(false);
    expect(isAmdZen4(cpuinfo('AuthenticAMD', '25', 'avx2 avx512fx'))).toBe(false);
    expect(isAmdZen4('')).toBe(false);
  });

  test('OMP_NUM_THREADS is read as OpenMP reads it: the first of a list, a positive integer, else nothing', () => {
    const read = (value: string | undefined) => environmentThreads(value === undefined ? {} : { OMP_NUM_THREADS: value });
    expect(read('1')).toBe(1);
    expect(read(' 8 ')).toBe(8);
    expect(read('4,2')).toBe(4);
    expect(read('5000')).toBe(1024);
    for (const bad of [undefined, '', '0', '-2', 'two', '1.5', ',3']) expect(read(bad), String(bad)).toBeNull();
  });

  test("dtype 'auto' picks bfloat16 only on a CPU with bfloat16 instructions, float16 on CUDA", () => {
    expect(resolveLoadOptions({ dtype: 'auto' }, noCuda, 8192, { cores: 2, bfloat16: true })).toMatchObject({ dtype: 'bfloat16' });
    expect(resolveLoadOptions({ dtype: 'auto' }, noCuda, 8192, { cores: 2, bfloat16: false })).toMatchObject({ dtype: 'float32' });
    expect(resolveLoadOptions({ dtype: 'auto' }, withCuda, 8192, { cores: 2, bfloat16: true })).toMatchObject({ device: 'cuda', dtype: 'float16' });
    expect(resolveLoadOptions({}, noCuda, 8192, { cores: 2, bfloat16: true })).toMatchObject({ dtype: 'float32' });
  });

  test('an int8 model runs on the CPU in float32: auto picks them, anything else is refused', () => {
    const cpu = { cores: 2, bfloat16: true };
    expect(resolveLoadOptions({ dtype: 'auto' }, withCuda, 8192, cpu, true)).toMatchObject({ device: 'cpu', dtype: 'float32' });
    expect(() => resolveLoadOptions({ device: 'cuda' }, withCuda, 8192, cpu, true)).toThrow(
      "device: expected 'cpu' or 'auto' for an int8 model (its torch-gen.json has `quantization`), received \"cuda\"",
    );
    expect(() => resolveLoadOptions({ dtype: 'bfloat16' }, noCuda, 8192, cpu, true)).toThrow(
      "dtype: expected 'float32' or 'auto' for an int8 model (its activations are float32), received \"bfloat16\"",
    );
  });

  test('cudaGraphs is a boolean, on by default', () => {
    expect(resolveLoadOptions({ cudaGraphs: false }, withCuda, 8192)).toMatchObject({ device: 'cuda', cudaGraphs: false });
    expect(() => resolveLoadOptions({ cudaGraphs: 'no' }, withCuda, 8192)).toThrow('cudaGraphs: expected true or false, received "no"');
    expect(() => resolveLoadOptions({ cudaGraphs: 0 }, withCuda, 8192)).toThrow(OptionError);
  });

  test('cudaGraphBatchSizes: by default the powers of two below maxBatch and maxBatch, else distinct sizes up to maxBatch, sorted', () => {
    expect(resolveLoadOptions({ maxBatch: 32 }, withCuda, 8192).cudaGraphBatchSizes).toEqual([1, 2, 4, 8, 16, 32]);
    expect(resolveLoadOptions({ maxBatch: 6 }, withCuda, 8192).cudaGraphBatchSizes).toEqual([1, 2, 4, 6]);
    expect(resolveLoadOptions({ maxBatch: 1 }, withCuda, 8192).cudaGraphBatchSizes).toEqual([1]);
    expect(resolveLoadOptions({ maxBatch: 32, cudaGraphBatchSizes: [32, 1, 8] }, withCuda, 8192).cudaGraphBatchSizes).toEqual([1, 8, 32]);
    const expected = 'cudaGraphBatchSizes: expected a non-empty array of distinct integers in [1, 8] (maxBatch), received';
    expect(() => resolveLoadOptions({ maxBatch: 8, cudaGraphBatchSizes: [16] }, withCuda, 8192)).toThrow(`${expected} an array`);
    expect(() => resolveLoadOptions({ maxBatch: 8, cudaGraphBatchSizes: [] }, withCuda, 8192)).toThrow(`${expected} an array`);
    expect(() => resolveLoadOptions({ maxBatch: 8, cudaGraphBatchSizes: [2, 2] }, withCuda, 8192)).toThrow(`${expected} an array`);
    expect(() => resolveLoadOptions({ maxBatch: 8, cudaGraphBatchSizes: 4 }, withCuda, 8192)).toThrow(`${expected} 4`);
  });
});

describe('generate options', () => {
  test('defaults maxTokens and accepts an AbortSignal', () => {
    expect(resolveGenerateOptions(undefined)).toMatchObject({ maxTokens: DEFAULT_MAX_TOKENS, signal: undefined });
    const signal = new AbortController().signal;
    expect(resolveGenerateOptions({ maxTokens: 5, signal })).toMatchObject({ maxTokens: 5, signal });
  });

  test('rejects maxTokens of the wrong type, fractional, out of range, NaN or Infinity', () => {
    const message = (value: string) => `maxTokens: expected an integer in [1, 1048576], received ${value}`;
    expect(() => resolveGenerateOptions({ maxTokens: '5' })).toThrow(message('"5"'));
    expect(() => resolveGenerateOptions({ maxTokens: 1.5 })).toThrow(message('1.5'));
    expect(() => resolveGenerateOptions({ maxTokens: 0 })).toThrow(message('0'));
    expect(() => resolveGenerateOptions({ maxTokens: 2 ** 21 })).toThrow(message('2097152'));
    expect(() => resolveGenerateOptions({ maxTokens: Number.NaN })).toThrow(message('NaN'));
    expect(() => resolveGenerateOptions({ maxTokens: Infinity })).toThrow(message('Infinity'));
  });

  test('rejects a signal that is not an AbortSignal and unknown keys', () => {
    expect(() => resolveGenerateOptions({ signal: {} })).toThrow('signal: expected an AbortSignal, received a object');
    expect(() => resolveGenerateOptions({ max_tokens: 5 })).toThrow('generate: unknown option `max_tokens`');
  });

  test('every option error is an OptionError with code ERR_INVALID_OPTION', () => {
    try {
      resolveGenerateOptions({ maxTokens: -1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).code).toBe('ERR_INVALID_OPTION');
    }
  });
});
