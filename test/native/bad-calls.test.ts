import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ContextLengthError, DisposedError, loadModel, OptionError, type ChatChunk, type Model } from '@org/torch-gen';
import { copyFixture, editManifest } from '../helpers.js';

// Calls a user can get wrong on a loaded model: each either runs sensibly or throws the typed error the
// table in RELIABILITY.md names, and the model keeps serving. (Option values one by one:
// test/unit/option-matrix.test.ts; random ones: test/native/fuzz-generate.test.ts.)
const MAX_CONTEXT = 64;
// A copy of llama-kv with a small chat template, so that chat() has something to render.
const copy = copyFixture('llama-kv');
const configPath = join(copy.dir, 'tokenizer_config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    ...JSON.parse(readFileSync(configPath, 'utf8')),
    chat_template: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
  }),
);

afterAll(() => copy.cleanup());

async function drain(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('bad calls on a loaded model', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(copy.dir, { device: 'cpu', maxContext: MAX_CONTEXT, maxBatch: 2 });
  });
  afterAll(() => model.dispose());

  test('a prompt of only special tokens runs: the tokens are the prompt, none of it is echoed', async () => {
    const eos = model.tokenizer.tokenToId('<|endoftext|>')!;
    const asText = await model.complete('<|endoftext|><|endoftext|>', { maxTokens: 4 });
    expect(asText.usage).toEqual({ promptTokens: 2, completionTokens: 4, totalTokens: 6 });
    expect(asText.finishReason).toBe('length');
    const asIds = await model.complete([eos, eos], { maxTokens: 4 });
    expect(asIds.tokenIds).toEqual(asText.tokenIds);
    expect(asIds.text).not.toContain('<|endoftext|>');
  });

  test('an empty prompt (text or ids) starts from the BOS token', async () => {
    for (const prompt of ['', []]) {
      const result = await model.complete(prompt, { maxTokens: 2 });
      expect(result.usage.promptTokens).toBe(1);
      expect(result.tokenIds.length).toBe(2);
    }
  });

  test('a prompt as wrong ids or of the wrong type is an OptionError naming the position', () => {
    const cases: [unknown, string][] = [
      [[1, -1], 'prompt[1]: expected a token id in [0, 384), received -1'],
      [[1.5], 'prompt[0]: expected a token id in [0, 384), received 1.5'],
      [[Number.NaN], 'prompt[0]: expected a token id in [0, 384), received NaN'],
      [[384], 'prompt[0]: expected a token id in [0, 384), received 384'],
      [['1'], 'prompt[0]: expected a token id in [0, 384), received 1'],
      [null, 'prompt: expected a string or an array of token ids, received object'],
      [{ length: 1 }, 'prompt: expected a string or an array of token ids, received object'],
      [42, 'prompt: expected a string or an array of token ids, received number'],
    ];
    for (const [prompt, message] of cases) {
      expect(() => model.generate(prompt as never)).toThrow(OptionError);
      expect(() => model.generate(prompt as never)).toThrow(message);
    }
  });

  test('a prompt longer than the context is a ContextLengthError, as text or as ids', async () => {
    const message = `the prompt has ${MAX_CONTEXT} tokens but the model's context holds ${MAX_CONTEXT}, including at least one generated token; shorten the prompt, or pass truncate: true`;
    expect(() => model.generate(new Array(MAX_CONTEXT).fill(5))).toThrow(new ContextLengthError(message));
    const long = 'Once upon a time, in a land far away, '.repeat(20);
    const error = await model.complete(long).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ContextLengthError);
    expect((error as ContextLengthError).code).toBe('ERR_CONTEXT_LENGTH');
    expect((error as Error).message).toMatch(/^the prompt has \d+ tokens but the model's context holds 64, including at least one generated token/);
  });

  test('maxTokens 0 is refused; maxTokens at its limit (2^20) runs to the end of the context with "length"', async () => {
    expect(() => model.generate('hi', { maxTokens: 0 })).toThrow(expect.objectContaining({ name: 'OptionError', option: 'maxTokens', message: 'maxTokens: expected an integer in [1, 1048576], received 0' }));
    expect(() => model.generate('hi', { maxTokens: 2 ** 20 + 1 })).toThrow('maxTokens: expected an integer in [1, 1048576], received 1048577');
    const result = await model.complete('Once upon', { maxTokens: 2 ** 20 });
    expect(result.finishReason).toBe('length');
    expect(result.usage.totalTokens).toBe(MAX_CONTEXT);
    // With truncate, a huge maxTokens still leaves the prompt half of the context.
    const long = new Array(MAX_CONTEXT + 10).fill(5);
    const truncated = await model.complete(long, { maxTokens: 2 ** 20, truncate: true });
    expect(truncated.usage.promptTokens).toBe(MAX_CONTEXT / 2);
    expect(truncated.usage.totalTokens).toBe(MAX_CONTEXT);
  });

  test('options that are not an object, and chat messages of the wrong shape, are OptionErrors', async () => {
    expect(() => model.generate('hi', 'fast' as never)).toThrow(expect.objectContaining({ name: 'OptionError', option: null, message: 'generate options: expected an options object, received "fast"' }));
    expect(() => model.generate('hi', [] as never)).toThrow('generate options: expected an options object, received an array');
    await expect(model.chat([])).rejects.toThrow(expect.objectContaining({ name: 'OptionError', option: 'messages', message: 'messages: expected a non-empty array of { role, content }' }));
    await expect(model.chat([{ role: 'user' }] as never)).rejects.toThrow(expect.objectContaining({ name: 'OptionError', option: 'messages', message: 'messages[0].content: expected a string, received undefined' }));
    await expect(model.chat('hi' as never)).rejects.toThrow(OptionError);
  });

  test('a chat whose content is only special tokens, or empty, still gets a reply', async () => {
    const special = await model.chat([{ role: 'user', content: '<|endoftext|>' }], { maxTokens: 3 });
    expect(special.tokenIds.length).toBeGreaterThan(0);
    const empty = await model.chat([{ role: 'user', content: '' }], { maxTokens: 3 });
    expect(empty.tokenIds.length).toBeGreaterThan(0);
  });

  test('after all of the above the model still serves a normal request and holds no slot', async () => {
    const result = await model.complete('Once upon a time', { maxTokens: 8 });
    expect(result.tokenIds.length).toBe(8);
    expect(model.stats()).toMatchObject({ activeRequests: 0, queuedRequests: 0 });
  });
});

describe('a model without a BOS token', () => {
  test('an empty prompt is an OptionError: there is nothing to start from', async () => {
    const noBos = copyFixture('llama-kv');
    try {
      editManifest(noBos.dir, (m) => {
        m.bos_token_id = null;
      });
      const model = await loadModel(noBos.dir, { device: 'cpu', maxContext: MAX_CONTEXT, maxBatch: 1 });
      const message = 'prompt: expected a non-empty prompt (this model has no BOS token to start from)';
      expect(() => model.generate('')).toThrow(expect.objectContaining({ name: 'OptionError', option: 'prompt', message: message }));
      expect(() => model.generate([])).toThrow(message);
      await model.dispose();
    } finally {
      noBos.cleanup();
    }
  });
});

describe('calls after dispose()', () => {
  test('every method throws DisposedError; dispose() twice is the same promise; tokenizer and info stay readable', async () => {
    const model = await loadModel(copy.dir, { device: 'cpu', maxContext: MAX_CONTEXT, maxBatch: 1 });
    const first = model.dispose();
    expect(model.dispose()).toBe(first);
    await first;
    await model.dispose();
    expect(model.disposed).toBe(true);
    const messages = [{ role: 'user', content: 'hi' }];
    const calls: [string, () => unknown][] = [
      ['generate', () => drain(model.generate('hi'))],
      ['complete', () => model.complete('hi')],
      ['chat', () => model.chat(messages)],
      ['streamChat', () => drain(model.streamChat(messages))],
      ['chatPromptIds', () => model.chatPromptIds(messages)],
      ['stats', () => model.stats()],
    ];
    for (const [name, call] of calls) {
      const error = await (async () => call())().then(
        () => new Error(`${name} did not throw`),
        (e: unknown) => e as Error,
      );
      expect(error, name).toBeInstanceOf(DisposedError);
      expect((error as DisposedError).code, name).toBe('ERR_DISPOSED');
      expect(error.message, name).toBe('this model has been disposed; load it again to use it');
    }
    // The tokenizer is plain JavaScript with no native handle: it keeps working, as does the info object.
    expect(model.tokenizer.encode('hi').length).toBeGreaterThan(0);
    expect(model.info.vocabSize).toBe(384);
  });
});
