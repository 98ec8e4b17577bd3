import { describe, expect, test, vi } from 'vitest';
import { checkAotiPackage, parseAotiPackage, warnThreadMismatch, withPackageDefaults, type AotiHost, type AotiPackage } from '../../lib/aoti.js';

// The load-time checks of an AOTInductor package against hosts this machine is not (the native tests in
// test/native/aoti.test.ts refuse tampered packages on this one).
const pkg: AotiPackage = { file: 'model.pt2', device: 'cpu', cpuIsa: 'avx512', torch: '2.9.1+cu128', threads: 2 };
const features = { avx2: true, avx512: true, avx512Vnni: true, avx512Bf16: false, amx: false };
const host: AotiHost = { device: 'cpu', dtype: 'float32', torchVersion: '2.9.1', cpuFeatures: features, arch: 'x64' };
const check = (p: Partial<AotiPackage>, h: Partial<AotiHost>) => () => checkAotiPackage({ ...pkg, ...p }, 'float32', { ...host, ...h }, '/m');

describe('checkAotiPackage', () => {
  test('a package for this device, dtype and CPU, built by this or an older torch, passes', () => {
    expect(check({}, {})).not.toThrow();
    expect(check({ torch: '2.8.0' }, {})).not.toThrow();
    expect(check({ torch: '2.9.1' }, { torchVersion: '2.11.0+cu130' })).not.toThrow();
    expect(check({ cpuIsa: 'none' }, { arch: 'arm64' })).not.toThrow();
  });

  test('AVX-512 code on an AVX2-only CPU, AVX2 code on ARM, NEON code on x86 are refused', () => {
    expect(check({}, { cpuFeatures: { ...features, avx512: false } })).toThrow(/compiled for CPUs with AVX-512, which this CPU lacks/);
    expect(check({ cpuIsa: 'avx2' }, { arch: 'arm64', cpuFeatures: { ...features, avx2: false } })).toThrow(/CPUs with AVX2/);
    expect(check({ cpuIsa: 'neon' }, {})).toThrow(/CPUs with the neon instructions of ARM/);
    expect(check({ cpuIsa: 'neon' }, { arch: 'arm64' })).not.toThrow();
    // torch 2.11 names the extensions it compiled for too.
    expect(check({ cpuIsa: 'avx512 avx512_vnni' }, {})).not.toThrow();
    expect(check({ cpuIsa: 'avx512 avx512_vnni' }, { cpuFeatures: { ...features, avx512: false, avx512Vnni: false } })).toThrow(
      /compiled for CPUs with AVX-512 and AVX-512 VNNI, which this CPU lacks/,
    );
  });

  // oneDNN capped below AVX-512 (ONEDNN_MAX_CPU_ISA=AVX2, which speeds up float32 TorchScript on AMD Zen 4)
  // cannot run the AVX-512 layout of a package's prepacked weights but in its reference code: refused.
  test('an AVX-512 package under a oneDNN cap below AVX-512 is refused; caps that keep AVX-512 pass', () => {
    expect(check({}, { onednnCap: { value: 'AVX2', source: 'environment' } })).toThrow(/laid out for oneDNN's AVX-512 kernels, .*reference code.*ONEDNN_MAX_CPU_ISA=AVX2 turns them off .*unset ONEDNN_MAX_CPU_ISA/);
    // Capped by torch-gen for a float32 model loaded first: the message says how to keep AVX-512.
    expect(check({}, { onednnCap: { value: 'AVX2', source: 'torch-gen' } })).toThrow(/torch-gen capped oneDNN at AVX2 .*loaded first .*ONEDNN_MAX_CPU_ISA=ALL, or load this package first/);
    expect(check({ cpuIsa: 'avx512 avx512_vnni' }, { onednnCap: { value: 'SSE41', source: 'environment' } })).toThrow(/ONEDNN_MAX_CPU_ISA=SSE41/);
    for (const value of [null, 'ALL', 'AVX512_CORE', 'AVX512_CORE_BF16', 'AVX10_1_512_AMX']) expect(check({}, { onednnCap: { value, source: value === null ? null : 'environment' } })).not.toThrow();
    expect(check({ cpuIsa: 'avx2' }, { onednnCap: { value: 'AVX2', source: 'environment' } })).not.toThrow();
  });

  test('a newer torch, by major, minor or patch, is refused', () => {
    expect(check({ torch: '2.9.2' }, {})).toThrow(/compiled with torch 2\.9\.2, newer than this libtorch \(2\.9\.1\)/);
    expect(check({ torch: '2.11.0' }, {})).toThrow(/under torch 2\.9\.1 or older, or upgrade libtorch$/);
  });

  test('a CUDA package on the CPU and a CPU package on cuda:1 are refused', () => {
    expect(check({ device: 'cuda', cpuIsa: null }, {})).toThrow(/compiled for cuda, which cannot run on cpu: load it with device 'cuda'/);
    expect(check({}, { device: 'cuda:1' })).toThrow(/compiled for cpu, which cannot run on cuda:1: .*--device cuda` on a GPU host$/);
  });
});

describe('parseAotiPackage', () => {
  const fail = (message: string): never => {
    throw new Error(message);
  };
  test('reads the exporter\'s entry; absent means TorchScript', () => {
    expect(parseAotiPackage(undefined, fail)).toBeNull();
    expect(parseAotiPackage({ file: 'model.pt2', device: 'cpu', cpu_isa: 'avx2', torch: '2.9.1', threads: 2 }, fail)).toEqual({
      file: 'model.pt2', device: 'cpu', cpuIsa: 'avx2', torch: '2.9.1', threads: 2,
    });
  });
  test.each([
    [{ file: '../x.pt2', device: 'cpu', torch: '2.9.1' }, /`aoti.file` must be a file name in the model directory, found "..\/x.pt2"/],
    [{ file: 'model.pt2', device: 'tpu', torch: '2.9.1' }, /`aoti.device` must be "cpu" or "cuda", found "tpu"/],
    [{ file: 'model.pt2', device: 'cpu', torch: 'nightly' }, /`aoti.torch` must be the torch version that compiled the package, found "nightly"/],
    [{ file: 'model.pt2', device: 'cpu', cpu_isa: 5, torch: '2.9.1' }, /`aoti.cpu_isa` must be a string or null, found 5/],
    ['model.pt2', /`aoti` must be an object, found "model.pt2"/],
    [{ file: 'model.pt2', device: 'cpu', torch: '2.9.1', threads: 0 }, /`aoti.threads` must be a positive integer or null, found 0/],
  ])('refuses %j', (value, message) => {
    expect(() => parseAotiPackage(value, fail)).toThrow(message);
  });
});

test('withPackageDefaults: the package\'s device and dtype stand in for absent or auto options only', () => {
  const cuda: AotiPackage = { ...pkg, device: 'cuda', cpuIsa: null };
  expect(withPackageDefaults({}, 'bfloat16', cuda)).toEqual({ device: 'cuda', dtype: 'bfloat16' });
  expect(withPackageDefaults({ device: 'auto', dtype: 'auto', threads: 2 }, 'float32', pkg)).toEqual({ device: 'cpu', dtype: 'float32', threads: 2 });
  expect(withPackageDefaults({ device: 'cuda:1', dtype: 'float16' }, 'float32', pkg)).toEqual({ device: 'cuda:1', dtype: 'float16' });
});

test('warnThreadMismatch: one warning, naming both counts, when the threads option is not the compiled one', () => {
  const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    warnThreadMismatch(pkg, 2, '/m');
    warnThreadMismatch({ ...pkg, threads: null }, 4, '/m');
    expect(warn).not.toHaveBeenCalled();
    warnThreadMismatch(pkg, 4, '/m');
    warnThreadMismatch(pkg, 8, '/m');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/compiled for 2 thread\(s\) .* \(4\) says; re-export it with `--threads 4` to match$/);
  } finally {
    warn.mockRestore();
  }
});
