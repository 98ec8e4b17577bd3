import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OptionError, loadModel, type ChatMessage, type Model } from '@org/torch-gen';
import { defaultModelDir, fixture } from '../helpers.js';

// Automatic prefix caching on the real SmolLM2 in FP32: a request that starts from cached keys and values
// must generate exactly the tokens it generates without the cache, greedy and seeded, alone and beside
// others that share its prefix; the cache stays within its budget.
const SYSTEM = 'You answer questions for the customers of a bicycle shop in Lyon. Be brief and polite. '.repeat(8);
const chat = (question: string): ChatMessage[] => [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: question },
];
const QUESTIONS = ['When do you open?', 'Do you repair tires?', 'Can I rent a bike?', 'Where are you?', 'Do you sell helmets?'];

describe('prefix caching on SmolLM2 (CPU, FP32)', () => {
  let cached: Model;
  let uncached: Model;
  beforeAll(async () => {
    [cached, uncached] = await Promise.all([
      loadModel(defaultModelDir, { device: 'cpu', dtype: 'float32', maxBatch: 4, maxContext: 512 }),
      loadModel(defaultModelDir, { device: 'cpu', dtype: 'float32', maxBatch: 4, maxContext: 512, prefixCacheMiB: 0 }),
    ]);
  });
  afterAll(async () => {
    await cached?.dispose();
    await uncached?.dispose();
  });

  test('is on by default, as large as the KV cache; prefixCacheMiB: 0 turns it off', () => {
    const prefix = cached.stats().prefixCache!;
    expect(prefix.bytes).toBeGreaterThan(0);
    expect(prefix.bytes).toBeLessThanOrEqual(cached.stats().cacheBytes);
    expect(prefix.capacityTokens).toBe(4 * 512);
    expect(cached.stats().memoryBytes).toBe(cached.stats().weightBytes + cached.stats().cacheBytes + prefix.bytes);
    expect(uncached.stats().prefixCache).toBeNull();
  });

  test('a request whose system prompt was seen before feeds only the rest, and generates the same tokens', async () => {
    const options = { maxTokens: 20, temperature: 0 };
    const first = await cached.chat(chat(QUESTIONS[0]!), options);
    const before = cached.stats();
    const second = await cached.chat(chat(QUESTIONS[1]!), options);
    const after = cached.stats();
    expect(after.prefixCache!.hits).toBe(before.prefixCache!.hits + 1);
    const reused = after.prefixCache!.hitTokens - before.prefixCache!.hitTokens;
    expect(reused).toBeGreaterThan(120);  // the system prompt is ~150 tokens: all but its last partial block
    expect(after.promptTokens - before.promptTokens).toBe(second.usage.promptTokens - reused);
    expect(first.tokenIds).toEqual((await uncached.chat(chat(QUESTIONS[0]!), options)).tokenIds);
    expect(second.tokenIds).toEqual((await uncached.chat(chat(QUESTIONS[1]!), options)).tokenIds);
  });

  test('seeded sampling gives the same tokens from a cached prefix', async () => {
    const options = { maxTokens: 24, temperature: 0.9, topP: 0.95, seed: 7 };
    await cached.chat(chat(QUESTIONS[2]!), options);
    const hits = cached.stats().prefixCache!.hits;
    const fromCache = await cached.chat(chat(QUESTIONS[2]!), options);
    expect(cached.stats().prefixCache!.hits).toBe(hits + 1);
    expect(fromCache.tokenIds).toEqual((await uncached.chat(chat(QUESTIONS[2]!), options)).tokenIds);
  });

  test('concurrent requests sharing a prefix compute it once and each get their own tokens', async () => {
    const fresh = await loadModel(defaultModelDir, { device: 'cpu', dtype: 'float32', maxBatch: 4, maxContext: 512 });
    try {
      const options = { maxTokens: 12, temperature: 0 };
      const together = await Promise.all(QUESTIONS.map((q) => fresh.chat(chat(q), options)));
      const prompts = together.reduce((sum, r) => sum + r.usage.promptTokens, 0);
      const stats = fresh.stats();
      expect(stats.prefixCache!.hits).toBe(QUESTIONS.length - 1);
      expect(stats.promptTokens).toBe(prompts - stats.prefixCache!.hitTokens);
      for (const [i, question] of QUESTIONS.entries()) {
        expect(together[i]!.tokenIds, question).toEqual((await uncached.chat(chat(question), options)).tokenIds);
      }
    } finally {
      await fresh.dispose();
    }
  });

  test('a conversation reuses its earlier turns, the reply included', async () => {
    const options = { maxTokens: 24, temperature: 0 };
    const turn1 = chat('Tell me about your repair service.');
    const reply = await cached.chat(turn1, options);
    const turn2: ChatMessage[] = [...turn1, { role: 'assistant', content: reply.text }, { role: 'user', content: 'And the price?' }];
    const before = cached.stats().prefixCache!.hitTokens;
    const answer = await cached.chat(turn2, options);
    const reused = cached.stats().prefixCache!.hitTokens - before;
    // Everything up to the reply's end is cached (within a block), not only the system prompt.
    expect(reused).toBeGreaterThanOrEqual(reply.usage.promptTokens + reply.usage.completionTokens - 2 * 16);
    expect(answer.tokenIds).toEqual((await uncached.chat(turn2, options)).tokenIds);
  });
});

describe('prefix cache budget', () => {
  test('never holds more than its budget; an evicted prefix is computed again, with the same tokens', async () => {
    // SmolLM2 keeps 720 KiB of keys and values per block of 16 tokens in FP32: 3 MiB holds 4 blocks, fewer
    // than these prompts need together.
    const options = { device: 'cpu', dtype: 'float32', maxBatch: 2, maxContext: 256 } as const;
    const model = await loadModel(defaultModelDir, { ...options, prefixCacheMiB: 3 });
    const reference = await loadModel(defaultModelDir, { ...options, prefixCacheMiB: 0 });
    try {
      const capacity = model.stats().prefixCache!.capacityTokens;
      expect(capacity).toBe(64);
      expect(model.stats().prefixCache!.bytes).toBeLessThanOrEqual(3 * 2 ** 20);
      const prompts = Array.from({ length: 6 }, (_, i) => `Prompt number ${i}: ` + 'words to fill the cache, '.repeat(6));
      for (let round = 0; round < 2; round++) {
        for (const prompt of prompts) {
          const result = await model.complete(prompt, { maxTokens: 4 });
          expect(result.tokenIds).toEqual((await reference.complete(prompt, { maxTokens: 4 })).tokenIds);
          expect(model.stats().prefixCache!.cachedTokens).toBeLessThanOrEqual(capacity);
        }
      }
      expect(model.stats().prefixCache!.evictions).toBeGreaterThan(0);
    } finally {
      await model.dispose();
      await reference.dispose();
    }
  });

  test('prefixCacheMiB is checked; a logits model keeps no prefixes', async () => {
    for (const bad of [-1, 1.5, 2 ** 21, '64']) {
      await expect(loadModel(fixture('llama-kv'), { prefixCacheMiB: bad as number })).rejects.toThrow(OptionError);
    }
    await expect(loadModel(fixture('llama-kv'), { prefixCacheMiB: -1 })).rejects.toThrow(/prefixCacheMiB/);
    const logits = await loadModel(fixture('gpt2-logits'), { device: 'cpu' });
    try {
      expect(logits.stats().prefixCache).toBeNull();
    } finally {
      await logits.dispose();
    }
  });

  test('a budget the memory cannot hold fails the load with a clear error', async () => {
    await expect(loadModel(fixture('llama-kv'), { device: 'cpu', prefixCacheMiB: 2 ** 20 })).rejects.toThrow(
      /the prefix cache needs \d+ MiB \(prefixCacheMiB\) but only \d+ MiB of memory is available on cpu; lower prefixCacheMiB, or set it to 0/,
    );
  });
});
