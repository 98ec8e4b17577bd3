import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, OptionError, type Model } from '@org/torch-gen';
import { fixture, readExpected } from '../helpers.js';

const expected = readExpected('llama-kv');
// A prompt whose greedy continuation runs the full 64 tokens, so there is text to cut.
const prompt = expected.prompts.find((p) => p.generated_ids.length === expected.max_new_tokens)!;

describe('generation API on a kv-cache model', () => {
  let model: Model;
  let fullText: string;
  beforeAll(async () => {
    model = await loadModel(fixture('llama-kv'), { device: 'cpu' });
    fullText = model.tokenizer.decode(prompt.generated_ids);
  });
  afterAll(() => model.dispose());

  test('a stop string spanning tokens ends generation before it; it is never emitted', async () => {
    // A piece of the greedy text that starts mid-way, several characters long.
    const start = Math.floor(fullText.length / 3);
    const stop = fullText.slice(start, start + 6);
    const cut = fullText.indexOf(stop);
    const chunks: string[] = [];
    let finishReason;
    for await (const chunk of model.generate(prompt.text, { maxTokens: 64, stop: [stop, 'never-appears'] })) {
      chunks.push(chunk.text);
      finishReason = chunk.finishReason ?? finishReason;
    }
    expect(chunks.join('')).toBe(fullText.slice(0, cut));
    expect(finishReason).toBe('stop');
  });

  test('stop strings that never occur leave the text whole', async () => {
    const result = await model.complete(prompt.text, { maxTokens: 64, stop: 'never-appears' });
    expect(result.text).toBe(fullText);
    expect(result.finishReason).toBe('length');
  });

  test('stopTokenIds end generation at that token, which is reported but not in the text', async () => {
    const stopId = prompt.generated_ids[4]!;
    const index = prompt.generated_ids.indexOf(stopId);
    const result = await model.complete(prompt.text, { maxTokens: 64, stopTokenIds: [stopId] });
    expect(result.tokenIds).toEqual(prompt.generated_ids.slice(0, index + 1));
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe(model.tokenizer.decode(prompt.generated_ids.slice(0, index)));
  });

  test('complete() returns the text, tokens, usage and timings', async () => {
    const result = await model.complete(prompt.text, { maxTokens: 10 });
    expect(result.tokenIds).toEqual(prompt.generated_ids.slice(0, 10));
    expect(result.usage).toEqual({ promptTokens: prompt.prompt_ids.length, completionTokens: 10, totalTokens: prompt.prompt_ids.length + 10 });
    expect(result.timings.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.timeToFirstTokenMs);
    expect(result.timings.tokensPerSecond).toBeGreaterThan(0);
  });

  test.each([
    [{ temperature: -1 }, 'temperature: expected a number in [0, 100], received -1'],
    [{ temperature: Number.NaN }, 'temperature: expected a number in [0, 100], received NaN'],
    [{ topP: 0 }, 'topP: expected a number in (0, 1], received 0'],
    [{ topP: 1.5 }, 'topP: expected a number in (0, 1], received 1.5'],
    [{ topK: 2.5 }, 'topK: expected an integer >= 0, received 2.5'],
    [{ minP: '0.1' }, 'minP: expected a number in [0, 1], received "0.1"'],
    [{ repetitionPenalty: 0 }, 'repetitionPenalty: expected a number in (0, 100], received 0'],
    [{ presencePenalty: 3 }, 'presencePenalty: expected a number in [-2, 2], received 3'],
    [{ frequencyPenalty: Infinity }, 'frequencyPenalty: expected a number in [-2, 2], received Infinity'],
    [{ seed: -1 }, 'seed: expected an integer in [0, 2^53), received -1'],
    [{ logprobs: 21 }, 'logprobs: expected an integer in [0, 20], received 21'],
    [{ stop: [''] }, 'stop: expected a non-empty string or an array of at most 16 non-empty strings, received an array'],
    [{ stop: 5 }, 'stop: expected a non-empty string or an array of at most 16 non-empty strings, received 5'],
    [{ stopTokenIds: [384] }, 'stopTokenIds: expected an array of token ids in [0, 384), received an array'],
    [{ top_p: 0.5 }, 'generate: unknown option `top_p`'],
  ])('rejects %o with a message naming the option', async (options, message) => {
    const run = async () => {
      for await (const _ of model.generate('hi', options as never)) break;
    };
    await expect(run()).rejects.toThrow(OptionError);
    await expect(run()).rejects.toThrow(message);
  });

  test('chat() on a model without a chat template says so', async () => {
    await expect(model.chat([{ role: 'user', content: 'hi' }])).rejects.toThrow(
      /this model has no chat template \(.*tokenizer_config\.json\); use generate\(\) with a plain prompt/,
    );
  });
});
