/**
 * Validates generate options under the names a caller used for them: the CLI's `--top-p`, the HTTP API's
 * `top_p`. The checks and their wording stay in options.ts; the error carries the option's name as data
 * (OptionError.option), and only the name it is shown under changes.
 */
import { OptionError } from './errors.js';
import { resolveGenerateOptions, type GenerateOptions } from './options.js';

/** Our option name (`topP`) to the caller's (`--top-p`, `top_p`); undefined keeps ours. */
export type OptionNames = (option: string) => string | undefined;

/**
 * Checks `options` as generate() would, and throws an OptionError whose message names the option as the
 * caller knows it: `top_p: expected a number in (0, 1], received 1.5`.
 */
export function checkGenerateOptions(options: GenerateOptions, names: OptionNames, vocabSize?: number): void {
  try {
    resolveGenerateOptions(options, vocabSize);
  } catch (error) {
    throw renameOptionError(error, names);
  }
}

/** `error` named as the caller knows its option, when it is an OptionError about one of `names`. */
export function renameOptionError(error: unknown, names: OptionNames): unknown {
  if (!(error instanceof OptionError) || error.option === null) return error;
  const theirs = names(error.option);
  return theirs === undefined ? error : error.renamed(theirs);
}
