// `npm test`'s tiers. test/unit needs neither the addon nor a model, so it has no global setup; the native
// and server tiers need the addon, the fixture models and SmolLM2, which test/global-setup.ts builds or
// checks. The integration tier (nginx, npm pack + install) runs from vitest.integration.config.ts, and
// test/gpu from vitest.gpu.config.ts: neither belongs to `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each test file in its own process: libtorch and the addon's engine threads stay isolated.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'native',
          include: ['test/native/**/*.test.ts', 'test/server/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
