import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DisposedError, loadModel, OptionError, ContextLengthError, type GenerationChunk, type Model } from '@org/torch-gen';
import { copyFixture, editManifest, fixture, readExpected, waitFor } from '../helpers.js';

const expected = readExpected('gpt2-logits');

async function collect(stream: AsyncIterable<GenerationChunk>) {
  const chunks: GenerationChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return {
    chunks,
    tokenIds: chunks.flatMap((chunk) => chunk.tokenIds),
    text: chunks.map((chunk) => chunk.text).join(''),
    last: chunks[chunks.length - 1] as GenerationChunk,
  };
}

describe('generate on CPU (logits interface, traced GPT-2)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('gpt2-logits'), { device: 'cpu' });
  });
  afterAll(async () => {
    await model.dispose();
  });

  test('reports the manifest and the device in model.info', () => {
    expect(model.info).toMatchObject({ architecture: 'gpt2', interface: 'logits', device: 'cpu', dtype: 'float32', maxContext: 128 });
    expect(model.info.vocabSize).toBe(model.tokenizer.vocabSize);
  });

  test('the tokenizer encodes every prompt as transformers does', () => {
    for (const prompt of expected.prompts) expect(model.tokenizer.encode(prompt.text)).toEqual(prompt.prompt_ids);
  });

  test.each(expected.prompts.map((prompt) => [prompt.text, prompt] as const))(
    'greedy tokens equal transformers generate() token for token: %s',
    async (_text, prompt) => {
      const result = await collect(model.generate(prompt.text, { maxTokens: expected.max_new_tokens }));
      expect(result.tokenIds).toEqual(prompt.generated_ids);
      expect(prompt.generated_ids.length).toBe(expected.max_new_tokens);
      expect(result.last.finishReason).toBe('length');
      expect(result.text).toBe(model.tokenizer.decode(prompt.generated_ids));
    },
  );

  test('streams one chunk per token with the finish reason and usage on the last one only', async () => {
    const prompt = expected.prompts[0]!;
    const { chunks, last } = await collect(model.generate(prompt.prompt_ids, { maxTokens: 8 }));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(prompt.generated_ids.slice(0, 8));
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined && c.usage === undefined)).toBe(true);
    expect(last.usage).toEqual({ promptTokens: prompt.prompt_ids.length, completionTokens: 8, totalTokens: prompt.prompt_ids.length + 8 });
  });

  test('rejects bad prompts with typed errors before anything runs', async () => {
    expect(() => model.generate([1, 2, 100000])).toThrow(
      expect.objectContaining({ name: 'OptionError', option: 'prompt', message: `prompt[2]: expected a token id in [0, ${model.info.vocabSize}), received 100000` }),
    );
    expect(() => model.generate(42 as unknown as string)).toThrow('prompt: expected a string or an array of token ids, received number');
    expect(() => model.generate('x', { maxTokens: 0 })).toThrow(OptionError);
    const long = Array.from({ length: 128 }, () => 5);
    expect(() => model.generate(long)).toThrow(
      new ContextLengthError("the prompt has 128 tokens but the model's context holds 128, including at least one generated token; shorten the prompt, or pass truncate: true"),
    );
  });

  test('truncate: true keeps the end of a prompt that does not fit, with room for maxTokens', async () => {
    const long = Array.from({ length: 200 }, (_, i) => (i % 50) + 1);
    const { tokenIds, last } = await collect(model.generate(long, { maxTokens: 16, truncate: true }));
    expect(last.usage?.promptTokens).toBe(112);
    expect(tokenIds.length).toBe(16);
    const expectedTokens = await collect(model.generate(long.slice(-112), { maxTokens: 16 }));
    expect(tokenIds).toEqual(expectedTokens.tokenIds);
    // A huge maxTokens still leaves half the context to the prompt.
    const half = await collect(model.generate(long, { maxTokens: 1000, truncate: true }));
    expect(half.last.usage?.promptTokens).toBe(64);
    expect(() => model.generate('x', { truncate: 'yes' as never })).toThrow('truncate: expected a boolean, received "yes"');
  });

  test('an empty prompt starts from the BOS token', async () => {
    const { tokenIds, last } = await collect(model.generate('', { maxTokens: 3 }));
    expect(last.usage?.promptTokens).toBe(1);
    expect(tokenIds.length).toBeGreaterThan(0);
  });

  test('stops at the end of the context with finish reason "length"', async () => {
    const prompt = Array.from({ length: 120 }, (_, i) => (i % 50) + 1);
    const { tokenIds, last } = await collect(model.generate(prompt, { maxTokens: 100 }));
    expect(tokenIds.length).toBeLessThanOrEqual(8);
    expect(last.finishReason).toBe(tokenIds.length === 8 ? 'length' : 'stop');
  });

  test('an aborted signal ends generation with finish reason "abort"', async () => {
    const prompt = expected.prompts[1]!.text;
    const full = await collect(model.generate(prompt, { maxTokens: 1000, temperature: 0 }));
    expect(full.last.finishReason).toBe('length');  // the fixture's context ends it, ~118 tokens on
    const controller = new AbortController();
    const chunks: GenerationChunk[] = [];
    for await (const chunk of model.generate(prompt, { maxTokens: 1000, temperature: 0, signal: controller.signal })) {
      chunks.push(chunk);
      if (chunks.length === 3) controller.abort();
    }
    const last = chunks[chunks.length - 1]!;
    expect(last.finishReason).toBe('abort');
    // Ended early. How many tokens arrive after abort() is how many steps this tiny model (microseconds a
    // step) finished before the engine saw the cancel, which depends on the machine: 5 to 12 have been seen.
    // So the bound is the same greedy run without the abort, not a count of chunks.
    expect(last.usage!.completionTokens).toBeLessThan(full.tokenIds.length);
    // A signal aborted before the call gives an empty, aborted generation.
    const again = await collect(model.generate('hi', { signal: controller.signal }));
    expect(again.chunks).toEqual([{ text: '', tokenIds: [], finishReason: 'abort', usage: { promptTokens: 2, completionTokens: 0, totalTokens: 2 } }]);
  });

  test('breaking out of for-await cancels the request and the next one runs normally', async () => {
    let seen = 0;
    for await (const _chunk of model.generate(expected.prompts[2]!.text, { maxTokens: 1000 })) {
      if (++seen === 2) break;
    }
    const prompt = expected.prompts[3]!;
    const next = await collect(model.generate(prompt.text, { maxTokens: expected.max_new_tokens }));
    expect(next.tokenIds).toEqual(prompt.generated_ids);
  });

  test('concurrent requests each get their own exact tokens', async () => {
    const results = await Promise.all(
      expected.prompts.map((prompt) => collect(model.generate(prompt.text, { maxTokens: expected.max_new_tokens }))),
    );
    results.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i]!.generated_ids));
  });
});

describe('end of sequence', () => {
  test('stops at an eos id from the manifest with finish reason "stop", eos in tokenIds but not in text', async () => {
    const prompt = expected.prompts[0]!;
    // Declare the 6th greedy token an end-of-sequence token: generation must stop right there.
    const eos = prompt.generated_ids[5]!;
    const firstIndex = prompt.generated_ids.indexOf(eos);
    const copy = copyFixture('gpt2-logits');
    try {
      editManifest(copy.dir, (m) => {
        m.eos_token_ids = [eos];
      });
      const model = await loadModel(copy.dir, { device: 'cpu' });
      const { tokenIds, text, last } = await collect(model.generate(prompt.text, { maxTokens: 32 }));
      expect(tokenIds).toEqual(prompt.generated_ids.slice(0, firstIndex + 1));
      expect(last.finishReason).toBe('stop');
      expect(text).toBe(model.tokenizer.decode(prompt.generated_ids.slice(0, firstIndex)));
      await model.dispose();
    } finally {
      copy.cleanup();
    }
  });
});

describe('dispose', () => {
  test('ends requests in flight with "abort", is idempotent, and later calls throw DisposedError', async () => {
    const model = await loadModel(fixture('gpt2-logits'), { device: 'cpu' });
    const running = (async () => {
      const chunks: GenerationChunk[] = [];
      for await (const chunk of model.generate('Once upon a time', { maxTokens: 100000 })) chunks.push(chunk);
      return chunks;
    })();
    const queued = (async () => {
      const chunks: GenerationChunk[] = [];
      for await (const chunk of model.generate('The quick brown fox', { maxTokens: 100000 })) chunks.push(chunk);
      return chunks;
    })();
    await waitFor(() => model.stats().activeRequests === 1 && model.stats().queuedRequests === 1, 5000, 'one request running, one queued');
    expect(model.disposed).toBe(false);
    const first = model.dispose();
    expect(model.dispose()).toBe(first);
    await first;
    expect(model.disposed).toBe(true);
    expect((await running).at(-1)?.finishReason).toBe('abort');
    expect((await queued).at(-1)?.finishReason).toBe('abort');
    expect(() => model.generate('hi')).toThrow(DisposedError);
    expect(() => model.generate('hi')).toThrow('this model has been disposed; load it again to use it');
    await model.dispose();
  });

  test('await using disposes at the end of the scope', async () => {
    let escaped: Model;
    {
      await using model = await loadModel(fixture('gpt2-logits'), { device: 'cpu' });
      escaped = model;
      expect(model.disposed).toBe(false);
    }
    expect(escaped.disposed).toBe(true);
  });
});
