import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { loadAddon, type NativeModel, type NativeSampling } from '../../lib/native.js';
import { fixture, waitFor } from '../helpers.js';

// The addon checks its input again for callers that bypass the TypeScript layer: wrong types and ranges
// are TypeErrors, and ids or lengths that could corrupt memory are refused with a code, never a crash.
describe('native boundary checks', () => {
  let native: NativeModel;
  let finished = 0;
  const sampling: NativeSampling = {
    temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, seed: 0, logprobs: 0,
  };
  const request = (overrides: Record<string, unknown>) => ({
    tokens: Int32Array.from([1, 2, 3]), maxTokens: 4, stopTokenIds: [], sampling, ...overrides,
  });
  beforeAll(async () => {
    native = await loadAddon().loadModel(
      {
        modelPath: join(fixture('llama-kv'), 'model.pt'), moduleFormat: 'torchscript', interface: 'kv-cache', vocabSize: 384, maxContext: 64,
        numLayers: 2, numKvHeads: 2, headDim: 16, maxBatch: 2, maxQueue: 16, prefillChunk: 256, device: 'cpu', dtype: 'float32',
        cudaGraphs: true, threads: 1, optimizeGraph: true, prefixCacheMiB: 1,
        cudaGraphBatchSizes: [1],
      },
      (events) => {
        finished += events.filter((event) => event.finishReason !== undefined).length;
      },
    );
  });
  afterAll(() => native.dispose());

  test.each([
    [{ tokens: 'abc' }, 'expected an array of integers or an Int32Array for `tokens`'],
    [{ maxTokens: 0 }, 'expected an integer in [1, 1048576] for `maxTokens`, received 0'],
    [{ maxTokens: 1.5 }, 'for `maxTokens`, received 1.5'],
    [{ stopTokenIds: [-1] }, 'expected an integer in [0, 2147483647] for `stopTokenIds[0]`, received -1'],
    // An Int32Array is checked element by element like an array, and named the same way.
    [{ tokens: Int32Array.from([1, 2, -3]) }, 'expected an integer in [0, 2147483647] for `tokens[2]`, received -3'],
    [{ sampling: { ...sampling, topP: 2 } }, '`sampling.topP` must be in'],
    [{ sampling: { ...sampling, temperature: Number.NaN } }, '`sampling.temperature` must be in'],
    [{ sampling: { ...sampling, seed: -5 } }, 'for `seed`, received -5'],
    [{ sampling: undefined }, 'expected an object for `sampling`'],
  ])('rejects %o with a TypeError', (overrides, message) => {
    expect(() => native.generate(request(overrides) as never)).toThrow(TypeError);
    expect(() => native.generate(request(overrides) as never)).toThrow(message);
  });

  test('a logits model planned with more than one slot is refused: it decodes one request at a time', () => {
    const spec = {
      modelPath: join(fixture('gpt2-logits'), 'model.pt'), moduleFormat: 'torchscript' as const, interface: 'logits' as const, vocabSize: 384, maxContext: 64,
      numLayers: 0, numKvHeads: 0, headDim: 0, maxBatch: 2, maxQueue: 16, prefillChunk: 256, device: 'cpu', dtype: 'float32' as const,
      cudaGraphs: true, cudaGraphBatchSizes: [], threads: 1, optimizeGraph: true, prefixCacheMiB: 0,
    };
    expect(() => loadAddon().loadModel(spec, () => {})).toThrow(
      '`maxBatch` must be 1 for the logits interface (it decodes one request at a time), received 2',
    );
  });

  test('a module format other than TorchScript or an AOTInductor package is refused by name', () => {
    const spec = {
      modelPath: join(fixture('llama-kv'), 'model.pt'), moduleFormat: 'onnx', interface: 'kv-cache' as const, vocabSize: 384, maxContext: 64,
      numLayers: 2, numKvHeads: 2, headDim: 16, maxBatch: 1, maxQueue: 16, prefillChunk: 256, device: 'cpu', dtype: 'float32' as const,
      cudaGraphs: true, cudaGraphBatchSizes: [1], threads: 1, optimizeGraph: true, prefixCacheMiB: 0,
    };
    expect(() => loadAddon().loadModel(spec as never, () => {})).toThrow("`moduleFormat` must be 'torchscript' or 'aoti', received 'onnx'");
  });

  test('token ids outside the vocabulary and prompts longer than the context are refused with a code', () => {
    const outside = () => native.generate(request({ tokens: Int32Array.from([1, 384]) }) as never);
    expect(outside).toThrow('generate: prompt token id 384 is outside the vocabulary [0, 384)');
    const long = () => native.generate(request({ tokens: new Int32Array(64) }) as never);
    expect(long).toThrow("generate: the prompt has 64 tokens but the model's context holds 64, including at least one generated token");
    // The codes that lib/errors.ts maps: OptionError for the ids, ContextLengthError for the length, as
    // when the TypeScript layer finds them.
    expect(outside).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(long).toThrow(expect.objectContaining({ code: 'ERR_CONTEXT_LENGTH' }));
    expect(() => native.generate(request({ tokens: new Int32Array(0) }) as never)).toThrow('generate: the prompt has no tokens');
  });

  test('300 random requests straight into the addon: each is refused with an error or runs to its end', async () => {
    let state = 11;
    const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const number = () => [Number.NaN, Infinity, -1, 0, 0.5, 1, 2, 1e9, next() * 3][Math.floor(next() * 9)];
    let accepted = 0;
    const before = finished;
    for (let i = 0; i < 300; i++) {
      const fuzzed: Record<string, unknown> = { ...sampling, seed: Math.floor(next() * 1000) };
      for (const key of Object.keys(sampling)) if (next() < 0.15) fuzzed[key] = number();
      const tokens = Int32Array.from({ length: Math.floor(next() * 70) }, () => Math.floor(next() * 400) - 5);
      try {
        native.generate({ tokens, maxTokens: 1 + Math.floor(next() * 5), stopTokenIds: [], sampling: fuzzed as unknown as NativeSampling });
        accepted++;
      } catch (error) {
        expect(error instanceof TypeError || typeof (error as { code?: unknown }).code === 'string').toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(5);
    // Every accepted request ends (its final event arrives), and the engine is still serving.
    await waitFor(() => finished - before >= accepted, 30_000, 'every accepted request to end');
    expect(finished - before).toBe(accepted);
  });
});
