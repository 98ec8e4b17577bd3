import { describe, expect, test } from 'vitest';
import { loadModel } from '@org/torch-gen';
import { fixture, readExpected } from '../helpers.js';
import { describeKvParity, KV_ARCHS } from './kv-parity.js';

describeKvParity(KV_ARCHS.map((arch) => `${arch}-kv`));

// Half precision casts the weights only: the exporter's integer buffers (Llama's fixed-point RoPE
// frequencies) must stay integers, or every position's rotation is garbage (float16 then gives NaN).
// Tolerances in nats: these random fixtures have logits of magnitude ~10-20; float16 keeps about 3
// decimal digits of them, bfloat16 about 2, so the float32 choice must be the half-precision best or
// close to it. (On AMD Zen 4 this file's process runs oneDNN at AVX2, fixed by its first, float32, load:
// bfloat16 then runs in oneDNN's reference kernels, slower but with the same rounding to bfloat16.)
describe.each(['llama-kv', 'qwen2-kv', 'gpt2-kv', 'qwen3-kv', 'gemma2-kv', 'gemma3-kv', 'phi3-kv'])('half-precision weights: %s', (name) => {
  const expected = readExpected(name);
  test.each([
    ['float16', 2e-2],
    ['bfloat16', 1],
  ] as const)('%s ranks the float32 greedy token first or within %f of its best', async (dtype, tolerance) => {
    const reference = await loadModel(fixture(name), { device: 'cpu', maxBatch: 1 });
    const half = await loadModel(fixture(name), { device: 'cpu', maxBatch: 1, dtype });
    try {
      expect(half.info.dtype).toBe(dtype);
      for (const prompt of expected.prompts) {
        const options = { maxTokens: 1, temperature: 0, logprobs: 5 } as const;
        const full = (await reference.complete(prompt.prompt_ids, options)).logprobs![0]!;
        const reduced = (await half.complete(prompt.prompt_ids, options)).logprobs![0]!;
        const same = reduced.topLogprobs.find((alternative) => alternative.tokenId === full.tokenId);
        expect(same, `${prompt.text}: the float32 choice is in the ${dtype} top 5`).toBeDefined();
        expect(Math.abs(same!.logprob - full.logprob), prompt.text).toBeLessThan(tolerance);
        expect(reduced.logprob - same!.logprob, prompt.text).toBeLessThan(tolerance);
      }
    } finally {
      await Promise.all([reference.dispose(), half.dispose()]);
    }
  });
});

test('model.info of the Gemma 3 fixture lists its distinguishing features', async () => {
  const model = await loadModel(fixture('gemma3-kv'), { device: 'cpu', maxBatch: 1 });
  try {
    expect(model.info).toMatchObject({ architecture: 'gemma3_text', family: 'Gemma 3' });
    expect(model.info.features).toEqual(expect.arrayContaining([
      'q/k RMSNorm',
      'GeGLU (gelu tanh)',
      'final logit soft-capping 6',
      'local RoPE default (theta 10000) on the sliding-window layers',
      'sliding-window attention (8 tokens) on 2 of 3 layers',
    ]));
  } finally {
    await model.dispose();
  }
});
