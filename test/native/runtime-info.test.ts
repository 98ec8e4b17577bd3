import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { runtimeInfo } from '@org/torch-gen';
// @ts-expect-error: a plain .mjs script without types
import { findLibtorch } from '../../scripts/libtorch.mjs';

test('runtimeInfo reports the libtorch the addon was built against and whether CUDA answers', () => {
  const info = runtimeInfo();
  const torch = findLibtorch() as { version: string; hasCuda: boolean };
  expect(info.torchVersion).toBe(torch.version);
  // The CUDA build of libtorch stays linked (CMakeLists.txt) whether or not this machine has a GPU.
  expect(info.cudaBuild).toBe(torch.hasCuda);
  expect(typeof info.cudaAvailable).toBe('boolean');
  expect(info.deviceCount).toBe(info.cudaAvailable ? info.deviceCount : 0);
  expect(info.cpuThreads).toBeGreaterThan(0);
  expect(info.addonPath).toMatch(/torch_gen\.node$/);
});

// libtorch reads them through cpuinfo (torch 2.9: at::cpu::is_*_supported; 2.11: get_cpu_capabilities, see
// native/core/runtime_info.cpp); the kernel's flags say the same.
test.skipIf(process.arch !== 'x64' || !existsSync('/proc/cpuinfo'))('runtimeInfo().cpuFeatures agree with /proc/cpuinfo', () => {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
  expect(runtimeInfo().cpuFeatures).toEqual({
    avx2: flags.has('avx2'),
    avx512: ['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((flag) => flags.has(flag)),
    avx512Vnni: flags.has('avx512_vnni'),
    avx512Bf16: flags.has('avx512_bf16'),
    amx: flags.has('amx_tile'),
  });
});
