import { describe, expect, test } from 'vitest';
import { OptionError } from '../../lib/errors.js';
import { optionsOf } from '../../lib/option-table.js';
import { resolveGenerateOptions, resolveLoadOptions } from '../../lib/options.js';

// Every public option with a value of the wrong type, out of range, NaN and Infinity: each is an OptionError
// whose `option` is the option's name and whose message names it, what it expects and what it received (the
// rows of RELIABILITY.md). The messages are written out here, not built from the option table, so that a
// change to the table's ranges shows up as a failing row.
const VOCAB = 384;

// option -> [what the message says it expects, bad values and how the message shows them]
const GENERATE: Record<string, [string, [unknown, string][]]> = {
  maxTokens: ['an integer in [1, 1048576]', [['8', '"8"'], [0, '0'], [2 ** 20 + 1, '1048577'], [1.5, '1.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  temperature: ['a number in [0, 100]', [['1', '"1"'], [-0.1, '-0.1'], [101, '101'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  topK: ['an integer >= 0', [['5', '"5"'], [-1, '-1'], [2.5, '2.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  topP: ['a number in (0, 1]', [['0.5', '"0.5"'], [0, '0'], [1.5, '1.5'], [Number.NaN, 'NaN'], [-Infinity, '-Infinity']]],
  minP: ['a number in [0, 1]', [[true, 'true'], [-0.1, '-0.1'], [1.1, '1.1'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  repetitionPenalty: ['a number in (0, 100]', [['1', '"1"'], [0, '0'], [101, '101'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  presencePenalty: ['a number in [-2, 2]', [['0', '"0"'], [-3, '-3'], [3, '3'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  frequencyPenalty: ['a number in [-2, 2]', [[[], 'an array'], [-2.5, '-2.5'], [2.5, '2.5'], [Number.NaN, 'NaN'], [-Infinity, '-Infinity']]],
  seed: ['an integer in [0, 2^53)', [['1', '"1"'], [-1, '-1'], [1.5, '1.5'], [2 ** 53, '9007199254740992'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  logprobs: ['an integer in [0, 20]', [[true, 'true'], [-1, '-1'], [21, '21'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  stop: [
    'a non-empty string or an array of at most 16 non-empty strings',
    [[5, '5'], [[''], 'an array'], [[1], 'an array'], [Array(17).fill('x'), 'an array'], [Number.NaN, 'NaN'], ['', '""']],
  ],
  stopTokenIds: [
    `an array of token ids in [0, ${VOCAB})`,
    [['1', '"1"'], [[VOCAB], 'an array'], [[-1], 'an array'], [[1.5], 'an array'], [[Number.NaN], 'an array'], [[Infinity], 'an array'], [Number.NaN, 'NaN']],
  ],
  truncate: ['a boolean', [['yes', '"yes"'], [1, '1'], [Number.NaN, 'NaN']]],
  responseFormat: [
    "{ type: 'json_object' }, { type: 'json_schema', schema }, { type: 'regex', pattern } or { type: 'grammar', grammar }",
    [['json', '"json"'], [5, '5'], [[], 'an array'], [true, 'true'], [Number.NaN, 'NaN']],
  ],
  signal: ['an AbortSignal', [[{}, 'a object'], ['abort', '"abort"'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
};

const LOAD: Record<string, [string, [unknown, string][]]> = {
  device: ["'auto', 'cpu', 'cuda' or 'cuda:N'", [[3, '3'], ['gpu', '"gpu"'], ['cuda:-1', '"cuda:-1"'], ['cuda:1.5', '"cuda:1.5"'], [Number.NaN, 'NaN']]],
  dtype: ["'float32', 'float16', 'bfloat16' or 'auto'", [['int8', '"int8"'], [16, '16'], [Number.NaN, 'NaN']]],
  maxBatch: ['an integer in [1, 1024]', [['4', '"4"'], [0, '0'], [1025, '1025'], [1.5, '1.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  maxContext: ["an integer in [2, 2048] (the model's context)", [['64', '"64"'], [1, '1'], [2049, '2049'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  maxQueue: ['an integer >= 0', [['1', '"1"'], [-1, '-1'], [1.5, '1.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  prefillChunk: ['an integer in [1, 65536]', [['1', '"1"'], [0, '0'], [65537, '65537'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  prefixCacheMiB: ['an integer in [0, 1048576]', [['64', '"64"'], [-1, '-1'], [1048577, '1048577'], [1.5, '1.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  cudaGraphs: ['true or false', [['no', '"no"'], [0, '0'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  cudaGraphBatchSizes: [
    'a non-empty array of distinct integers in [1, 4] (maxBatch)',
    [[[0], 'an array'], [[5], 'an array'], [[1.5], 'an array'], [[Number.NaN], 'an array'], [Number.NaN, 'NaN'], ['1', '"1"']],
  ],
  threads: ['an integer in [1, 1024]', [['2', '"2"'], [0, '0'], [1025, '1025'], [1.5, '1.5'], [Number.NaN, 'NaN'], [Infinity, 'Infinity']]],
  optimizeGraph: ['true or false', [['yes', '"yes"'], [1, '1'], [Number.NaN, 'NaN']]],
};

const rows = (table: Record<string, [string, [unknown, string][]]>) =>
  Object.entries(table).flatMap(([name, [expects, values]]) =>
    values.map(([value, shown]) => [name, shown, value, `${name}: expected ${expects}, received ${shown}`] as const),
  );

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

test('the matrix covers every option of the table, and only those', () => {
  expect(Object.keys(GENERATE).sort()).toEqual(optionsOf('generate').map((spec) => spec.name).sort());
  expect(Object.keys(LOAD).sort()).toEqual(optionsOf('load').map((spec) => spec.name).sort());
});

describe('every generate option, wrong type, out of range, NaN and Infinity', () => {
  test.each(rows(GENERATE))('%s = %s', (name, _shown, value, message) => {
    const error = thrown(() => resolveGenerateOptions({ [name]: value }, VOCAB));
    expect(error).toBeInstanceOf(OptionError);
    expect((error as OptionError).code).toBe('ERR_INVALID_OPTION');
    expect((error as OptionError).option).toBe(name);
    expect((error as OptionError).message).toBe(message);
  });

  test('undefined and null mean the default (JSON bodies send null)', () => {
    const defaults = resolveGenerateOptions({ seed: 1 }, VOCAB);
    const nulls = Object.fromEntries(Object.keys(GENERATE).map((name) => [name, null]));
    expect(resolveGenerateOptions({ ...nulls, seed: 1 }, VOCAB)).toEqual(defaults);
  });
});

describe('every loadModel option, wrong type, out of range, NaN and Infinity', () => {
  test.each(rows(LOAD))('%s = %s', (name, _shown, value, message) => {
    const error = thrown(() => resolveLoadOptions({ [name]: value }, () => false, 2048));
    expect(error).toBeInstanceOf(OptionError);
    expect((error as OptionError).code).toBe('ERR_INVALID_OPTION');
    expect((error as OptionError).option).toBe(name);
    expect((error as OptionError).message).toBe(message);
  });
});
