import { expect, test } from 'vitest';
import { DeviceError, loadModel, runtimeInfo } from '@org/torch-gen';
import { device, fixtureDir, onCuda } from './helpers.js';

test('runtimeInfo() sees the device under test', () => {
  const info = runtimeInfo();
  if (onCuda) {
    expect(info).toMatchObject({ cudaBuild: true, cudaAvailable: true });
    const ordinal = Number(device.split(':')[1] ?? 0);
    expect(info.deviceCount).toBeGreaterThan(ordinal);
  } else {
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
  }
});

test("'cuda:99' is a DeviceError that says which devices exist", async () => {
  const error = await loadModel(fixtureDir('gpt2-kv'), { device: 'cuda:99' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeviceError);
  // With a GPU the message counts the devices; without one it says CUDA is not available.
  const pattern = runtimeInfo().cudaAvailable
    ? /device 'cuda:99' does not exist: this machine has \d+ CUDA device/
    : /device 'cuda:99' was requested but CUDA is not available/;
  expect((error as Error).message).toMatch(pattern);
});
