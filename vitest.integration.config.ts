// `npm run test:integration`: what needs more than the project installs for itself (nginx for the replicas
// test) or takes minutes on its own (packing the npm tarball and installing it into a new project, which
// builds the addon once more). .ci/run installs nginx and runs it after `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // One file at a time: each starts several processes that load a model, or builds the addon.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
