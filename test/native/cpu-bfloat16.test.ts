import { expect, test } from 'vitest';
import { loadModel } from '@org/torch-gen';
import { defaultModelDir } from '../helpers.js';

// bfloat16 on the CPU runs its linear layers in oneDNN's AVX-512 bfloat16 kernels. This file's first load is
// bfloat16, so its process keeps them (the first CPU load fixes oneDNN's instruction set, and a float32
// model loaded first would cap it at AVX2 on AMD Zen 4: onednn-isa-cap.test.ts).
test('bfloat16 runs its linear layers in oneDNN and decodes the real model as float32 does', async () => {
  const bf16 = await loadModel(defaultModelDir, { device: 'cpu', dtype: 'bfloat16', maxBatch: 1 });
  const fp32 = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 1 });
  try {
    expect(bf16.info.graphOptimization).toBe('frozen, 121 oneDNN linear layers');
    const prompt = 'The capital of France is';
    const [low, full] = await Promise.all([bf16.complete(prompt, { maxTokens: 8 }), fp32.complete(prompt, { maxTokens: 8 })]);
    // bfloat16 keeps 2-3 significant digits: the first greedy tokens of a confident continuation agree.
    expect(low.tokenIds.slice(0, 4)).toEqual(full.tokenIds.slice(0, 4));
  } finally {
    await Promise.all([bf16.dispose(), fp32.dispose()]);
  }
});
