import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from '@org/torch-gen';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, readExpected } from '../helpers.js';

// Greedy generation through the kv-cache interface on CPU FP32 must reproduce transformers' generate()
// on the same weights token for token (expected.json is written by python/fixtures/kv_models.py). Gemma 2/3
// prompts are longer than their 8-token sliding windows; Phi-3 runs LongRoPE's long factors and a window.
// The `-aoti` fixtures are the same weights compiled by AOTInductor (model.pt2), with the same expected.json.
const ARCHS = ['gpt2', 'llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3'];
describe.each([...ARCHS.map((arch) => `${arch}-kv`), ...ARCHS.map((arch) => `${arch}-kv-aoti`)])('kv-cache interface: %s', (name) => {
  const expected = readExpected(name);
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture(name), { device: 'cpu', maxBatch: 4 });
  });
  afterAll(() => model.dispose());

  test('model.info names the family and its features as the manifest does', () => {
    const manifest = JSON.parse(readFileSync(join(fixture(name), 'torch-gen.json'), 'utf8')) as { family: string; features: string[] };
    expect(model.info.family).toBe(manifest.family);
    expect(model.info.features).toEqual(manifest.features);
  });

  test('the tokenizer encodes every prompt as transformers does', () => {
    for (const prompt of expected.prompts) expect(model.tokenizer.encode(prompt.text)).toEqual(prompt.prompt_ids);
  });

  test('greedy tokens equal transformers generate(), each prompt alone', async () => {
    for (const prompt of expected.prompts) {
      const result = await model.complete(prompt.text, { maxTokens: expected.max_new_tokens });
      expect(result.tokenIds, prompt.text).toEqual(prompt.generated_ids);
      const stoppedAtEos = prompt.generated_ids.at(-1) === expected.eos_token_id;
      expect(result.finishReason).toBe(stoppedAtEos ? 'stop' : 'length');
    }
    expect(expected.prompts.some((p) => p.generated_ids.length === expected.max_new_tokens)).toBe(true);
  });

  test('greedy tokens are the same when all prompts decode together in one batch (and one waits)', async () => {
    const results = await Promise.all(expected.prompts.map((prompt) => model.complete(prompt.prompt_ids, { maxTokens: expected.max_new_tokens })));
    expect(expected.prompts.length).toBeGreaterThan(model.info.maxBatch);
    results.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i]!.generated_ids));
  });
});

// Half precision casts the weights only: the exporter's integer buffers (Llama's fixed-point RoPE
// frequencies) must stay integers, or every position's rotation is garbage (float16 then gives NaN).
// Tolerances in nats: these random fixtures have logits of magnitude ~10-20; float16 keeps about 3
// decimal digits of them, bfloat16 about 2, so the float32 choice must be the half-precision best or
// close to it.
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
