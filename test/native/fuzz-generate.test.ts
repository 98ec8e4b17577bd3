import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, TorchGenError, type ChatChunk, type Model } from '@org/torch-gen';
import { randomOptions, randomPrompt, randomText, seeded, type Random } from '../fuzz-inputs.js';
import { copyFixture, editManifest, fixture, readExpected } from '../helpers.js';

// Fuzzing through the real addon: random prompts (text junk, token ids in and out of range, huge strings) and
// random options go to generate(), complete(), chat() and streamChat() of two small fixture models (kv-cache and
// logits), several at a time, some broken off or aborted. Each call must either finish with consistent output
// or throw a TorchGenError; the process must not crash; afterwards no slot is held and greedy output is still
// exactly the reference. Then random manifests go through loadModel the same way.
//
// Bounded by time: FUZZ_SECONDS (default 12) for requests, FUZZ_MANIFEST_SECONDS (default 4) for manifests;
// FUZZ_SEED picks the inputs (default 1); FUZZ_REPORT=path writes the counts as JSON. A longer run:
//   FUZZ_SECONDS=600 FUZZ_MANIFEST_SECONDS=120 npx vitest run test/native/fuzz-generate.test.ts
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 12);
const MANIFEST_SECONDS = Number(process.env.FUZZ_MANIFEST_SECONDS ?? 4);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const IN_FLIGHT = 6;
const VOCAB = 384;
const expected = readExpected('llama-kv');

interface Counts {
  tried: number;
  completed: number;
  refused: Record<string, number>;
  finishReasons: Record<string, number>;
}

const report: Record<string, unknown> = { seed: SEED };
afterAll(() => {
  console.info(`fuzz-generate: ${JSON.stringify(report)}`);
  if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(report, null, 2)}\n`);
});

function count(map: Record<string, number>, key: string) {
  map[key] = (map[key] ?? 0) + 1;
}

/** Anything but a TorchGenError is a bug: the input that caused it goes into the failure message. */
function refusal(error: unknown, input: unknown, counts: Counts): void {
  if (!(error instanceof TorchGenError)) {
    throw new Error(`not a TorchGenError for input ${safeJson(input)}: ${String(error)}\n${(error as Error)?.stack ?? ''}`);
  }
  expect(error.message.length).toBeGreaterThan(0);
  count(counts.refused, error.name);
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) ?? String(value);
    return text.length > 400 ? `${text.slice(0, 400)}... (${text.length} characters)` : text;
  } catch {
    return String(value);
  }
}

function checkChunks(chunks: ChatChunk[], maxContext: number): string {
  const last = chunks[chunks.length - 1];
  expect(last?.finishReason).toMatch(/^(stop|length|abort)$/);
  const ids = chunks.flatMap((chunk) => chunk.tokenIds);
  expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < VOCAB)).toBe(true);
  expect(chunks.every((chunk) => typeof chunk.text === 'string')).toBe(true);
  expect(last!.usage!.completionTokens).toBe(ids.length);
  expect(last!.usage!.totalTokens).toBeLessThanOrEqual(maxContext);
  return last!.finishReason!;
}

/** One random call on `model`: resolves when it has finished or been refused. */
async function oneCall(model: Model, random: Random, counts: Counts): Promise<void> {
  const prompt = randomPrompt(random, VOCAB);
  const options = randomOptions(random, VOCAB);
  const mode = random.pick(['generate', 'generate', 'complete', 'break', 'abort', 'chat', 'streamChat'] as const);
  const controller = new AbortController();
  if (mode === 'abort') {
    options.signal = controller.signal;
    if (random.next() < 0.3) controller.abort();
    else setTimeout(() => controller.abort(), random.int(5));
  }
  counts.tried++;
  const input = { mode, prompt, options };
  try {
    let chunks: ChatChunk[] = [];
    if (mode === 'complete') {
      const result = await model.complete(prompt as never, options);
      chunks = [{ text: result.text, tokenIds: result.tokenIds, finishReason: result.finishReason, usage: result.usage }];
    } else if (mode === 'chat' || mode === 'streamChat') {
      const messages = random.next() < 0.9 ? [{ role: random.pick(['user', 'system', 'assistant', '']), content: randomText(random) }] : random.value();
      if (mode === 'chat') {
        const reply = await model.chat(messages as never, options);
        chunks = [{ text: reply.text, tokenIds: reply.tokenIds, finishReason: reply.finishReason, usage: reply.usage }];
      } else {
        for await (const chunk of model.streamChat(messages as never, options)) chunks.push(chunk);
      }
    } else {
      const stopAfter = mode === 'break' ? 1 + random.int(3) : Infinity;
      for await (const chunk of model.generate(prompt as never, options)) {
        chunks.push(chunk);
        if (chunks.length >= stopAfter) break;
      }
      if (mode === 'break' && chunks.at(-1)?.finishReason === undefined) {
        counts.completed++;
        count(counts.finishReasons, 'break');
        return;
      }
    }
    count(counts.finishReasons, checkChunks(chunks, model.info.maxContext));
    counts.completed++;
  } catch (error) {
    refusal(error, input, counts);
  }
}

describe('fuzzing generate() through the addon', () => {
  let kv: Model;
  let logits: Model;
  const chat = copyFixture('llama-kv');
  beforeAll(async () => {
    // A chat template, so that chat() renders instead of refusing every call.
    const config = JSON.parse(readFileSync(`${chat.dir}/tokenizer_config.json`, 'utf8'));
    config.chat_template = '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:';
    writeFileSync(`${chat.dir}/tokenizer_config.json`, JSON.stringify(config));
    kv = await loadModel(chat.dir, { device: 'cpu', maxContext: 64, maxBatch: 3, maxQueue: 4, prefillChunk: 16 });
    logits = await loadModel(fixture('gpt2-logits'), { device: 'cpu', maxQueue: 2 });
  });
  afterAll(async () => {
    await kv?.dispose();
    await logits?.dispose();
    chat.cleanup();
  });

  test(`random calls for ${SECONDS} s: each finishes or throws a TorchGenError, and the models keep serving`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    const random = seeded(SEED);
    const counts: Counts = { tried: 0, completed: 0, refused: {}, finishReasons: {} };
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    while (performance.now() - started < SECONDS * 1000) {
      const model = random.next() < 0.75 ? kv : logits;
      const call = oneCall(model, random, counts).finally(() => inFlight.delete(call));
      inFlight.add(call);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    report.requests = { ...counts, seconds: Math.round((performance.now() - started) / 100) / 10 };

    expect(counts.completed).toBeGreaterThan(counts.tried / 10);
    expect(Object.keys(counts.refused).length).toBeGreaterThan(0);
    // No slot or queue entry leaked, and the output is still exact.
    for (const model of [kv, logits]) {
      await expect.poll(() => model.stats().activeRequests + model.stats().queuedRequests, { timeout: 5000 }).toBe(0);
    }
    const prompt = expected.prompts[0]!;
    const again = await kv.complete(prompt.text, { maxTokens: 16, temperature: 0 });
    expect(again.tokenIds).toEqual(prompt.generated_ids.slice(0, 16));
    expect((await logits.complete('Once upon a time', { maxTokens: 4 })).tokenIds.length).toBe(4);
  });
});

describe('fuzzing manifests through loadModel', () => {
  test(`random manifests for ${MANIFEST_SECONDS} s: each loads and generates, or throws a TorchGenError`, { timeout: (MANIFEST_SECONDS + 120) * 1000 }, async () => {
    const random = seeded(SEED + 1000);
    const counts: Counts = { tried: 0, completed: 0, refused: {}, finishReasons: {} };
    const copies = Object.fromEntries(['llama-kv', 'gpt2-kv', 'gpt2-logits'].map((name) => [name, copyFixture(name)]));
    const fields = ['interface', 'vocab_size', 'max_context', 'num_layers', 'num_kv_heads', 'head_dim', 'dtype', 'bos_token_id', 'eos_token_ids', 'format_version'];
    // Values near the truth are the interesting ones: off by one, doubled, halved, and a few absurd ones.
    const near = (truth: unknown) =>
      typeof truth === 'number' ? random.pick([truth + 1, truth - 1, truth * 2, Math.floor(truth / 2), 0, 1, 2 ** 31, 2 ** 40, random.value()]) : random.value();
    const started = performance.now();
    try {
      while (performance.now() - started < MANIFEST_SECONDS * 1000) {
        const name = random.pick(Object.keys(copies));
        const dir = copies[name]!.dir;
        const edits: Record<string, unknown> = {};
        editManifest(dir, (m) => {
          Object.assign(m, JSON.parse(JSON.stringify(readManifestOf(name))));
          for (let k = 1 + random.int(2); k > 0; k--) {
            const field = random.pick(fields);
            const value = random.next() < 0.2 && field === 'interface' ? random.pick(['logits', 'kv-cache']) : near(m[field]);
            m[field] = value;
            edits[field] = value;
          }
        });
        counts.tried++;
        let model: Model | undefined;
        try {
          model = await loadModel(dir, { device: 'cpu', maxBatch: 1, maxContext: random.pick([undefined, 16, 64]) });
          const result = await model.complete('Once upon a time', { maxTokens: 2 });
          count(counts.finishReasons, result.finishReason);
          counts.completed++;
        } catch (error) {
          refusal(error, { fixture: name, edits }, counts);
        } finally {
          await model?.dispose();
        }
      }
    } finally {
      for (const copy of Object.values(copies)) copy.cleanup();
    }
    report.manifests = { ...counts, seconds: Math.round((performance.now() - started) / 100) / 10 };
    expect(counts.tried).toBeGreaterThan(5);
    expect(counts.refused.ModelLoadError ?? 0).toBeGreaterThan(0);
  });
});

const manifests = new Map<string, Record<string, unknown>>();
function readManifestOf(name: string): Record<string, unknown> {
  if (!manifests.has(name)) {
    manifests.set(name, JSON.parse(readFileSync(`${fixture(name)}/torch-gen.json`, 'utf8')) as Record<string, unknown>);
  }
  return manifests.get(name)!;
}
