// Random JSON schemas (seeded, so a failure replays) through constrained decoding on SmolLM2: each one either
// compiles and every sample at temperature 1 parses and validates (ajv), or is refused with a
// ResponseFormatError that says why; never a crash, a hang, or an untyped error. Some are made to be refused
// (`not`, a bad pattern, an empty range, an unknown format).
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadModel, runtimeInfo, ResponseFormatError, type Model } from '@org/torch-gen';
import { defaultModelDir } from '../helpers.js';

const SCHEMAS = 32;
const SEEDS = [7, 8];
const ajv = new Ajv2020({ strict: false });

/** mulberry32: a small seeded generator, so that the schemas are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Patterns that mean the same to JavaScript (ajv) and to the engine's Rust regex.
const PATTERNS = ['^[a-z]{2,6}$', '^[A-Z][a-z]{1,5}$', '^[0-9]{3}-[0-9]{2}$', '^(yes|no)$', '^#[0-9a-f]{6}$'];
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'kilo', 'lima', 'name', 'age', 'city', 'tags', 'id', 'score'];

/** A random schema whose output is bounded (strings, arrays, numbers), so that a sample always ends. */
function schemaOf(next: () => number, depth: number): Record<string, unknown> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const kinds = depth >= 2 ? ['string', 'integer', 'number', 'boolean', 'enum', 'pattern', 'null'] : ['object', 'array', 'anyOf', 'string', 'integer', 'enum', 'pattern', 'object'];
  switch (pick(kinds)) {
    case 'string':
      return { type: 'string', minLength: int(0, 2), maxLength: int(3, 12) };
    case 'pattern':
      return { type: 'string', pattern: pick(PATTERNS) };
    case 'integer': {
      const min = int(-50, 50);
      return { type: 'integer', minimum: min, maximum: min + int(0, 200) };
    }
    case 'number':
      return { type: 'number', minimum: 0, maximum: int(1, 100) };
    case 'boolean':
      return { type: 'boolean' };
    case 'null':
      return { type: 'null' };
    case 'enum':
      return { enum: WORDS.slice(int(0, 6), int(7, 11)) };
    case 'anyOf':
      return { anyOf: [schemaOf(next, depth + 1), schemaOf(next, depth + 1)] };
    case 'array':
      return { type: 'array', items: schemaOf(next, depth + 1), minItems: int(0, 1), maxItems: int(1, 3) };
    default: {
      const names = [...new Set(Array.from({ length: int(1, 3) }, () => pick(WORDS)))];
      const properties = Object.fromEntries(names.map((name) => [name, schemaOf(next, depth + 1)]));
      return { type: 'object', properties, required: names.filter(() => next() < 0.7), additionalProperties: false };
    }
  }
}

/** Breaks one subschema so that the engine must refuse the whole (and name where). */
function spoil(schema: Record<string, unknown>, next: () => number): Record<string, unknown> {
  const ways = [
    { not: { type: 'string' } },
    { type: 'string', pattern: '[unclosed' },
    { type: 'integer', minimum: 10, maximum: 1 },
    { type: 'string', format: 'no-such-format' },
  ];
  const bad = ways[Math.floor(next() * ways.length)]!;
  return { type: 'object', properties: { ok: schema, broken: bad }, required: ['ok', 'broken'], additionalProperties: false };
}

const engine = runtimeInfo().grammarEngine;

test.skipIf(engine === null)(
  `${SCHEMAS} random schemas: each compiles and always yields valid JSON, or is refused with a clear error`,
  async () => {
    const model: Model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 768 });
    const outcomes = { valid: 0, refused: 0 };
    try {
      for (let i = 0; i < SCHEMAS; i++) {
        const next = random(1000 + i);
        const base = schemaOf(next, 0);
        const spoiled = i % 4 === 3;
        const schema = spoiled ? spoil(base, next) : base;
        const label = `schema ${i}: ${JSON.stringify(schema)}`;
        const messages = [{ role: 'user' as const, content: 'Answer with JSON.' }];
        const results = await Promise.allSettled(
          SEEDS.map((seed) => model.chat(messages, { responseFormat: { type: 'json_schema', schema }, temperature: 1, seed, maxTokens: 400 })),
        );
        for (const result of results) {
          if (result.status === 'rejected') {
            expect(result.reason, label).toBeInstanceOf(ResponseFormatError);
            expect((result.reason as ResponseFormatError).message, label).toMatch(/^responseFormat: the grammar engine cannot compile the schema/);
            outcomes.refused += 1;
            continue;
          }
          expect(spoiled, `${label} compiled although a part of it cannot be`).toBe(false);
          expect(result.value.finishReason, `${label}\n${result.value.text}`).toBe('stop');
          const value: unknown = JSON.parse(result.value.text);
          expect(ajv.validate(schema, value), `${label}\n${result.value.text}\n${ajv.errorsText()}`).toBe(true);
          outcomes.valid += 1;
        }
        if (spoiled) {
          const error = (results[0] as PromiseRejectedResult).reason as ResponseFormatError;
          expect(error.path, label).toBe('/properties/broken');
        }
      }
    } finally {
      await model.dispose();
    }
    expect(outcomes.refused).toBe((SCHEMAS / 4) * SEEDS.length);
    expect(outcomes.valid).toBe(SCHEMAS * SEEDS.length - outcomes.refused);
  },
  600_000,
);
