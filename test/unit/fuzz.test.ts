import { describe, expect, test } from 'vitest';
import { ModelLoadError, OptionError } from '../../lib/errors.js';
import { parseManifest } from '../../lib/manifest.js';
import { resolveGenerateOptions, resolveLoadOptions } from '../../lib/options.js';
import { seeded as generator } from '../fuzz-inputs.js';

// Seeded fuzzing of the validators: every input either resolves to concrete, in-range values or throws
// the validator's typed error. Anything else (a TypeError, a NaN slipping through) fails the test.
// FUZZ_RUNS raises the count for a longer run (see README). The same inputs through the real addon:
// test/native/fuzz-generate.test.ts.
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

const GENERATE_KEYS = ['maxTokens', 'temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty',
  'frequencyPenalty', 'seed', 'stop', 'stopTokenIds', 'logprobs', 'truncate', 'signal', 'bogus'];

describe('fuzzing the validators', () => {
  test(`generate options: ${RUNS} random option objects resolve in range or throw OptionError`, () => {
    const { next, pick, value } = generator(1);
    let accepted = 0;
    for (let i = 0; i < RUNS; i++) {
      const options: Record<string, unknown> = {};
      for (let k = Math.floor(next() * 4); k > 0; k--) options[pick(GENERATE_KEYS)] = value();
      try {
        const resolved = resolveGenerateOptions(options, 384);
        accepted++;
        const s = resolved.sampling;
        for (const number of [resolved.maxTokens, s.temperature, s.topK, s.topP, s.minP, s.repetitionPenalty, s.presencePenalty, s.frequencyPenalty, s.seed, s.logprobs]) {
          expect(Number.isFinite(number)).toBe(true);
        }
        expect(s.topP > 0 && s.topP <= 1 && s.temperature >= 0 && s.seed >= 0 && Number.isInteger(s.seed)).toBe(true);
        expect(resolved.stopTokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < 384)).toBe(true);
      } catch (error) {
        if (!(error instanceof OptionError)) throw error;
        expect(error.message).toMatch(/^(\w+|generate options|generate): /);
      }
    }
    expect(accepted).toBeGreaterThan(RUNS / 20);
  });

  test(`load options: ${RUNS} random option objects resolve or throw OptionError`, () => {
    const { next, pick, value } = generator(2);
    for (let i = 0; i < RUNS; i++) {
      const options: Record<string, unknown> = {};
      for (let k = Math.floor(next() * 3); k > 0; k--) options[pick(['device', 'dtype', 'maxBatch', 'maxContext', 'maxQueue', 'prefillChunk', 'x'])] = value();
      try {
        const resolved = resolveLoadOptions(options, () => next() < 0.5, 2048);
        expect(resolved.maxContext).toBeLessThanOrEqual(2048);
        expect(Number.isInteger(resolved.maxBatch) && resolved.maxBatch >= 1).toBe(true);
      } catch (error) {
        if (!(error instanceof OptionError)) throw error;
      }
    }
  });

  test(`manifests: ${RUNS} mutated manifests parse into valid values or throw ModelLoadError`, () => {
    const { next, pick, value } = generator(3);
    const valid: Record<string, unknown> = {
      format: 'torch-gen', format_version: 1, interface: 'kv-cache', architecture: 'llama', vocab_size: 100,
      max_context: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 16, dtype: 'float32',
      bos_token_id: 1, eos_token_ids: [2], pad_token_id: null,
    };
    for (let i = 0; i < RUNS; i++) {
      const manifest = next() < 0.05 ? value() : { ...valid };
      if (typeof manifest === 'object' && manifest !== null && !Array.isArray(manifest)) {
        for (let k = 1 + Math.floor(next() * 3); k > 0; k--) (manifest as Record<string, unknown>)[pick(Object.keys(valid))] = value();
      }
      try {
        const parsed = parseManifest(manifest);
        expect(parsed.vocabSize >= 1 && parsed.maxContext >= 2).toBe(true);
        expect(parsed.eosTokenIds.every((id) => id < parsed.vocabSize)).toBe(true);
        if (parsed.interface === 'kv-cache') expect(parsed.numLayers * parsed.numKvHeads * parsed.headDim).toBeGreaterThan(0);
      } catch (error) {
        if (!(error instanceof ModelLoadError)) throw error;
      }
    }
  });
});
