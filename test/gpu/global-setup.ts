// The GPU tests read what scripts/gpu-suite.sh prepares (the addon, the fixtures, transformers' references on
// the device); this only checks that it is there, with the command that makes it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KV_FIXTURES, device, fixtureDir, referencesPath } from './helpers.js';

const addon = process.env.TORCH_GEN_ADDON ?? join(import.meta.dirname, '..', '..', 'build', 'Release', 'torch_gen.node');

export default function setup(): void {
  const missing = [addon, referencesPath, ...KV_FIXTURES.map((name) => join(fixtureDir(name), 'model.pt'))].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `the GPU tests need ${missing.join(', ')}; run \`scripts/gpu-suite.sh\` (it builds the addon, the fixtures and ` +
        `the references on TORCH_GEN_TEST_DEVICE, now '${device}'), or \`scripts/gpu-suite.sh --steps build,fixtures,references\``,
    );
  }
}
