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
