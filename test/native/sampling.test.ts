import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type GenerateOptions, type Model } from '@org/torch-gen';
import { loadAddon } from '../../lib/native.js';
import { resolveGenerateOptions } from '../../lib/options.js';
import { fixture, readExpected } from '../helpers.js';

interface Known {
  tokens: number[];
  logits: number[];
}
const known = JSON.parse(readFileSync(join(fixture('known-distribution'), 'expected.json'), 'utf8')) as Known;

/** The distribution torch-gen should sample from, computed independently here (Hugging Face's order). */
function expectedProbabilities(logits: number[], { temperature = 1, topK = 0, topP = 1, minP = 0 }: GenerateOptions): number[] {
  const softmax = (values: number[]) => {
    const max = Math.max(...values.filter((v) => v > -Infinity));
    const exps = values.map((v) => (v === -Infinity ? 0 : Math.exp(v - max)));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  };
  let scores = logits.map((l) => l / temperature);
  const order = scores.map((_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  if (topK > 0) order.slice(topK).forEach((i) => (scores[i] = -Infinity));
  if (topP < 1) {
    const probs = softmax(scores);
    let before = 0;
    for (const i of order) {
      if (before > topP) scores[i] = -Infinity;
      before += probs[i] as number;
    }
  }
  if (minP > 0) {
    const probs = softmax(scores);
    const top = Math.max(...probs);
    scores = scores.map((s, i) => ((probs[i] as number) < minP * top ? -Infinity : s));
  }
  return softmax(scores);
}

// 0.1% critical values of the chi-square distribution by degrees of freedom.
const CHI_SQUARE_999 = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12];

describe('sampling matches the known distribution (chi-square, p = 0.001)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('known-distribution'), { device: 'cpu', maxBatch: 2, maxContext: 8192 });
  });
  afterAll(() => model.dispose());

  const SAMPLES = 4000;
  test.each<[string, GenerateOptions]>([
    ['temperature 1', { temperature: 1 }],
    ['temperature 0.5', { temperature: 0.5 }],
    ['temperature 2', { temperature: 2 }],
    ['top-k 3', { temperature: 1, topK: 3 }],
    ['top-p 0.7', { temperature: 1, topP: 0.7 }],
    ['min-p 0.2', { temperature: 1, minP: 0.2 }],
    ['top-k 5, top-p 0.9, min-p 0.1, temperature 1.3', { temperature: 1.3, topK: 5, topP: 0.9, minP: 0.1 }],
  ])('%s', async (_name, options) => {
    const { tokenIds } = await model.complete([1], { ...options, maxTokens: SAMPLES, seed: 1234 });
    expect(tokenIds.length).toBe(SAMPLES);
    const probabilities = expectedProbabilities(known.logits, options);
    const counts = known.tokens.map((token) => tokenIds.filter((id) => id === token).length);
    // Nothing outside the distribution's support: filtered tokens and the -40 background never appear.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(SAMPLES);
    known.tokens.forEach((_, i) => {
      if (probabilities[i] === 0) expect(counts[i]).toBe(0);
    });
    const support = probabilities.map((p, i) => [p, counts[i] as number] as const).filter(([p]) => p > 0);
    const chiSquare = support.reduce((sum, [p, observed]) => sum + (observed - p * SAMPLES) ** 2 / (p * SAMPLES), 0);
    const degrees = support.length - 1;
    if (degrees > 0) expect(chiSquare).toBeLessThan(CHI_SQUARE_999[degrees] as number);
  });

  test('logprobs are the model distribution: chosen token and top alternatives, best first', async () => {
    const { logprobs } = await model.complete([1], { temperature: 1, seed: 5, maxTokens: 20, logprobs: 3 });
    const full = expectedProbabilities(known.logits, { temperature: 1 }).map(Math.log);
    expect(logprobs).toHaveLength(20);
    for (const entry of logprobs!) {
      const index = known.tokens.indexOf(entry.tokenId);
      expect(entry.logprob).toBeCloseTo(full[index] as number, 5);
      expect(entry.topLogprobs.map((alt) => alt.tokenId)).toEqual(known.tokens.slice(0, 3));
      entry.topLogprobs.forEach((alt, k) => expect(alt.logprob).toBeCloseTo(full[k] as number, 5));
      expect(entry.token).toBe(model.tokenizer.decode([entry.tokenId]));
    }
  });
});

describe('logit processing equals Hugging Face logits processors on the same input', () => {
  interface Case {
    params: GenerateOptions;
    prompt: number[];
    generated: number[];
    logits: number[];
    expected: (number | null)[];
  }
  const reference = JSON.parse(readFileSync(join(fixture('processing-reference'), 'processing.json'), 'utf8')) as {
    vocab: number;
    cases: Case[];
  };
  test.each(reference.cases.map((c) => [JSON.stringify(c.params), c] as const))('%s', (_name, testCase) => {
    // Temperature 1 where the case sets none: the processing path of a sampling request.
    const { sampling } = resolveGenerateOptions({ temperature: 1, ...testCase.params, seed: 0 });
    const processed = loadAddon()._processLogits(Float32Array.from(testCase.logits), reference.vocab, [
      { sampling, prompt: testCase.prompt, generated: testCase.generated },
    ]);
    testCase.expected.forEach((value, i) => {
      if (value === null) expect(processed[i]).toBe(-Infinity);
      else expect(processed[i]).toBeCloseTo(value, 4);
    });
  });
});

describe('seeds', () => {
  const prompts = readExpected('llama-kv').prompts;
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('llama-kv'), { device: 'cpu', maxBatch: 8 });
  });
  afterAll(() => model.dispose());
  const options = { temperature: 0.9, topP: 0.95, maxTokens: 48 };

  test('the same seed and options give the same tokens; another seed gives others', async () => {
    const first = await model.complete(prompts[1]!.prompt_ids, { ...options, seed: 42 });
    const again = await model.complete(prompts[1]!.prompt_ids, { ...options, seed: 42 });
    const other = await model.complete(prompts[1]!.prompt_ids, { ...options, seed: 43 });
    expect(again.tokenIds).toEqual(first.tokenIds);
    expect(other.tokenIds).not.toEqual(first.tokenIds);
  });

  test('a seeded request gives the same tokens alone and beside 7 other requests', async () => {
    const alone = await model.complete(prompts[2]!.prompt_ids, { ...options, seed: 7 });
    const neighbours = Array.from({ length: 7 }, (_, i) =>
      model.complete(prompts[i % prompts.length]!.prompt_ids, { temperature: 1.2, maxTokens: 40 + i, seed: 100 + i }),
    );
    const [together] = await Promise.all([model.complete(prompts[2]!.prompt_ids, { ...options, seed: 7 }), ...neighbours]);
    expect(together.tokenIds).toEqual(alone.tokenIds);
  });

  test('temperature 0 is greedy whatever the seed', async () => {
    const prompt = prompts[1]!;
    const result = await model.complete(prompt.prompt_ids, { temperature: 0, seed: 99, maxTokens: 64 });
    expect(result.tokenIds).toEqual(prompt.generated_ids);
  });
});
