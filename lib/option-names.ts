/**
 * Validates generate options under the names a caller used for them: the CLI's `--top-p`, the HTTP API's
 * `top_p`. The checks and their wording stay in options.ts; only the leading option name is swapped.
 */
import { OptionError } from './errors.js';
import { resolveGenerateOptions, type GenerateOptions } from './options.js';

/** Our option name (`topP`) to the caller's (`--top-p`, `top_p`). Names left out keep ours. */
export type OptionNames = Partial<Record<keyof GenerateOptions, string>>;

/**
 * Checks `options` as generate() would, and throws an OptionError whose message names the option as the
 * caller knows it: `top_p: expected a number in (0, 1], received 1.5`.
 */
export function checkGenerateOptions(options: GenerateOptions, names: OptionNames, vocabSize?: number): void {
  try {
    resolveGenerateOptions(options, vocabSize);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    const ours = /^(\w+): /.exec(error.message)?.[1] as keyof GenerateOptions | undefined;
    const theirs = ours === undefined ? undefined : names[ours];
    if (ours === undefined || theirs === undefined) throw error;
    throw new OptionError(`${theirs}: ${error.message.slice(ours.length + 2)}`, { cause: error });
  }
}
