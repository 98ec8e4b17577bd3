// Greedy generation through the kv-cache interface on CPU FP32 must reproduce transformers' generate()
// on the same weights token for token (expected.json is written by python/fixtures/kv_models.py). Gemma 2/3
// prompts are longer than their 8-token sliding windows; Phi-3 runs LongRoPE's long factors and a window.
// Shared by kv-cache.test.ts (TorchScript) and kv-cache-aoti.test.ts (the same weights compiled by
// AOTInductor, model.pt2, with the same expected.json): two files, two processes, because the first CPU load
// fixes oneDNN's instruction set for its process (native/core/onednn_isa.h), AVX2 for a float32 TorchScript
// model on AMD Zen 4, and a package needs the AVX-512 kernels its weights were laid out for.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from '@org/torch-gen';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, readExpected } from '../helpers.js';

export const KV_ARCHS = ['gpt2', 'llama', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3'];

export function describeKvParity(names: string[]): void {
  describe.each(names)('kv-cache interface: %s', (name) => {
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
}
