/** The generation flags `generate`, `chat` and `bench` share, parsed into generate() options. */
import { checkGenerateOptions } from '../option-names.js';
import type { OptionName } from '../option-table.js';
import type { GenerateOptions } from '../options.js';
import type { ParsedArgs } from './args.js';
import { fileFlagHelp, fileFlags, flagName, optionFlags, optionHelp, optionsFromFileFlags, optionsFromFlags, type FlagConfig } from './option-flags.js';

/** Every generate option with a flag (stopTokenIds, truncate and signal have none). */
const GENERATION_OPTIONS = [
  'maxTokens',
  'temperature',
  'topK',
  'topP',
  'minP',
  'repetitionPenalty',
  'presencePenalty',
  'frequencyPenalty',
  'seed',
  'stop',
  'logprobs',
] as const satisfies readonly OptionName[];

/** Options whose flags read a file (responseFormat: --json-schema, --grammar). */
const FILE_OPTIONS = ['responseFormat'] as const satisfies readonly OptionName[];

export const GENERATION_FLAGS: FlagConfig = { ...optionFlags(GENERATION_OPTIONS), ...fileFlags(FILE_OPTIONS) };

export const GENERATION_HELP = `Generation:\n${optionHelp(GENERATION_OPTIONS)}\n${fileFlagHelp(FILE_OPTIONS)}`;

/**
 * The generate() options the flags ask for (flags left out stay out, so the library's defaults apply),
 * checked by the library's own rules with messages that name the flag.
 */
export function generationOptions(values: ParsedArgs['values']): GenerateOptions {
  const options = { ...optionsFromFlags(values, GENERATION_OPTIONS), ...optionsFromFileFlags(values, FILE_OPTIONS) } as GenerateOptions;
  checkGenerateOptions(options, flagName);
  return options;
}
