import { describe, expect, test } from 'vitest';
import { OptionError } from '../../lib/errors.js';
import { DEFAULT_MAX_TOKENS, resolveGenerateOptions, resolveLoadOptions } from '../../lib/options.js';

const noCuda = () => false;
const withCuda = () => true;

describe('loadModel options', () => {
  test('device auto picks the CPU without CUDA and the GPU with it, with the matching default dtype', () => {
    expect(resolveLoadOptions({}, noCuda)).toEqual({ device: 'cpu', dtype: 'float32' });
    expect(resolveLoadOptions(undefined, withCuda)).toEqual({ device: 'cuda', dtype: 'float16' });
    expect(resolveLoadOptions({ device: 'cuda:1', dtype: 'bfloat16' }, noCuda)).toEqual({ device: 'cuda:1', dtype: 'bfloat16' });
  });

  test('rejects a device of the wrong type or form, naming the option', () => {
    expect(() => resolveLoadOptions({ device: 3 }, noCuda)).toThrow(
      new OptionError("device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', received 3"),
    );
    expect(() => resolveLoadOptions({ device: 'gpu' }, noCuda)).toThrow(
      "device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', received \"gpu\"",
    );
  });

  test('rejects an unknown dtype and unknown keys', () => {
    expect(() => resolveLoadOptions({ dtype: 'int8' }, noCuda)).toThrow(
      "dtype: expected 'float32', 'float16' or 'bfloat16', received \"int8\"",
    );
    expect(() => resolveLoadOptions({ devise: 'cpu' }, noCuda)).toThrow(
      'loadModel: unknown option `devise`; known options are `device`, `dtype`',
    );
    expect(() => resolveLoadOptions('cpu', noCuda)).toThrow('loadModel options: expected an options object, received "cpu"');
  });
});

describe('generate options', () => {
  test('defaults maxTokens and accepts an AbortSignal', () => {
    expect(resolveGenerateOptions(undefined)).toEqual({ maxTokens: DEFAULT_MAX_TOKENS, signal: undefined });
    const signal = new AbortController().signal;
    expect(resolveGenerateOptions({ maxTokens: 5, signal })).toEqual({ maxTokens: 5, signal });
  });

  test('rejects maxTokens of the wrong type, fractional, out of range, NaN or Infinity', () => {
    const message = (value: string) => `maxTokens: expected an integer in [1, 1048576], received ${value}`;
    expect(() => resolveGenerateOptions({ maxTokens: '5' })).toThrow(message('"5"'));
    expect(() => resolveGenerateOptions({ maxTokens: 1.5 })).toThrow(message('1.5'));
    expect(() => resolveGenerateOptions({ maxTokens: 0 })).toThrow(message('0'));
    expect(() => resolveGenerateOptions({ maxTokens: 2 ** 21 })).toThrow(message('2097152'));
    expect(() => resolveGenerateOptions({ maxTokens: Number.NaN })).toThrow(message('NaN'));
    expect(() => resolveGenerateOptions({ maxTokens: Infinity })).toThrow(message('Infinity'));
  });

  test('rejects a signal that is not an AbortSignal and unknown keys', () => {
    expect(() => resolveGenerateOptions({ signal: {} })).toThrow('signal: expected an AbortSignal, received a object');
    expect(() => resolveGenerateOptions({ max_tokens: 5 })).toThrow('generate: unknown option `max_tokens`');
  });

  test('every option error is an OptionError with code ERR_INVALID_OPTION', () => {
    try {
      resolveGenerateOptions({ maxTokens: -1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).code).toBe('ERR_INVALID_OPTION');
    }
  });
});
