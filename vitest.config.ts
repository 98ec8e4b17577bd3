import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/gpu runs under vitest.gpu.config.ts, from scripts/gpu-suite.sh, after it prepares models and references.
    exclude: [...configDefaults.exclude, 'test/gpu/**'],
    globalSetup: ['test/global-setup.ts'],
    // Each test file in its own process: libtorch and the addon's engine threads stay isolated.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
