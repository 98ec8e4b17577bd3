import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from '@org/torch-gen';
import { BF16_TOLERANCE, FP16_TOLERANCE, KV_FIXTURES, compareLogprobs, describeWorst, device, fixtureDir, readReferences } from './helpers.js';

// torch-gen against transformers on the same device and the same weights (the kv fixtures; references from
// test/gpu/references.py): identical greedy tokens in float32, log-probabilities within a stated tolerance in
// float16 and bfloat16.
const references = readReferences();

describe.each(KV_FIXTURES)('%s on the test device', (name) => {
  const reference = references.fixtures[name]!;
  const maxContext = 256;

  describe('float32', () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(fixtureDir(name), { device, dtype: 'float32', maxBatch: reference.prompts.length, maxContext });
    });
    afterAll(() => model.dispose());

    test('greedy tokens equal transformers generate() in float32 on the same device, prompt by prompt', async () => {
      expect(model.info).toMatchObject({ device, dtype: 'float32' });
      for (const prompt of reference.prompts) {
        const result = await model.complete(prompt.prompt_ids, { maxTokens: reference.max_new_tokens });
        expect(result.tokenIds, prompt.text).toEqual(prompt.generated_ids);
      }
    });

    test('a batch of all prompts decodes to the same greedy tokens as each prompt alone', async () => {
      // float32 only: in half precision another batch size may pick other kernels, whose rounding can flip a
      // near tie; in float32 the fixtures' smallest top-2 gap (1e-3) is far above that rounding.
      const results = await Promise.all(reference.prompts.map((p) => model.complete(p.prompt_ids, { maxTokens: reference.max_new_tokens })));
      results.forEach((result, i) => expect(result.tokenIds, reference.prompts[i]!.text).toEqual(reference.prompts[i]!.generated_ids));
    });
  });

  test(`float16 log-probabilities stay within ${FP16_TOLERANCE} x the logit scale of transformers' float32`, async () => {
    await using model = await loadModel(fixtureDir(name), { device, dtype: 'float16', maxBatch: 1, maxContext });
    expect(model.info.dtype).toBe('float16');
    let compared = 0;
    for (const prompt of reference.prompts) {
      const result = await model.complete(prompt.prompt_ids, { maxTokens: references.steps_recorded, logprobs: 20 });
      const comparison = compareLogprobs(result.logprobs!, prompt);
      compared += comparison.steps;
      expect(comparison.steps, prompt.text).toBeGreaterThanOrEqual(1);
      expect(comparison.worst.ratio, `${prompt.text}: ${describeWorst(comparison)}`).toBeLessThanOrEqual(FP16_TOLERANCE);
    }
    console.log(`${name} float16: ${compared} steps compared with transformers float32`);
  });

  test(`bfloat16 loads and generates; log-probabilities within ${BF16_TOLERANCE} x the logit scale`, async () => {
    await using model = await loadModel(fixtureDir(name), { device, dtype: 'bfloat16', maxBatch: 1, maxContext });
    expect(model.info.dtype).toBe('bfloat16');
    const prompt = reference.prompts[0]!;
    const result = await model.complete(prompt.prompt_ids, { maxTokens: 32, logprobs: 20 });
    expect(result.tokenIds.length).toBeGreaterThan(0);
    expect(result.tokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < model.info.vocabSize)).toBe(true);
    expect(['stop', 'length']).toContain(result.finishReason);
    const comparison = compareLogprobs(result.logprobs!, prompt);
    expect(comparison.steps).toBeGreaterThanOrEqual(1);
    expect(comparison.worst.ratio, describeWorst(comparison)).toBeLessThanOrEqual(BF16_TOLERANCE);
  });
});
