import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each test file in its own process: libtorch and the addon's engine threads stay isolated.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
