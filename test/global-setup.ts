// Builds the random-weight fixture models (cached by a hash of their builders) before any test runs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script without types
import { makeFixtures } from '../scripts/make-fixtures.mjs';
// @ts-expect-error: a plain .mjs script without types
import { cmakeAddon } from '../scripts/build-native.mjs';

export default function setup(): void {
  if (!existsSync(cmakeAddon)) {
    throw new Error(`the addon is not built (${cmakeAddon}); run \`npm run build:native\` first`);
  }
  // TORCH_GEN_FIXTURES=a,b builds only those fixtures (for a quick run of a subset of the tests).
  makeFixtures(process.env.TORCH_GEN_FIXTURES);
  const defaultModel = join(import.meta.dirname, '..', 'models', 'smollm2-135m-instruct', 'model.pt');
  if (!existsSync(defaultModel)) {
    throw new Error(`the default model is not exported (${defaultModel}); run \`npm run model:default\` first`);
  }
}
