// The GPU suite's tests (test/gpu), run by scripts/gpu-suite.sh on TORCH_GEN_TEST_DEVICE (default 'cuda'),
// never by `npm test`: they need the models and transformers references the suite prepares first.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/gpu/**/*.test.ts'],
    globalSetup: ['test/gpu/global-setup.ts'],
    // Each file in its own process (libtorch and CUDA state stay isolated), one file at a time: the files
    // share one GPU, and the timing-free checks gain nothing from running side by side.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
