/** The generation flags `generate`, `chat` and `bench` share, parsed into generate() options. */
import type { ParseArgsConfig } from 'node:util';
import { checkGenerateOptions } from '../option-names.js';
import type { GenerateOptions } from '../options.js';
import { integerFlag, numberFlag, stringFlag, stringsFlag, type ParsedArgs } from './args.js';

export const GENERATION_FLAGS = {
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string', short: 't' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  logprobs: { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const GENERATION_HELP = `Generation:
  -n, --max-tokens N            most tokens to generate (default 256)
  -t, --temperature T           0 is greedy; higher is more random, in [0, 100] (default: the model's, else 0)
      --top-k K                 keep the K most likely tokens (default 0: off)
      --top-p P                 keep the smallest set of tokens reaching probability P, in (0, 1] (default 1)
      --min-p P                 drop tokens less likely than P x the best one, in [0, 1] (default 0)
      --repetition-penalty R    Hugging Face's repetition penalty, in (0, 100] (default 1: off)
      --presence-penalty P      OpenAI's presence penalty, in [-2, 2] (default 0)
      --frequency-penalty P     OpenAI's frequency penalty, in [-2, 2] (default 0)
      --seed S                  random seed: the same seed gives the same text (default: random)
      --stop TEXT               end the text at TEXT (repeatable)
      --logprobs N              report each token's log-probability and N alternatives, in [0, 20]`;

const FLAG_NAMES = {
  maxTokens: '--max-tokens',
  temperature: '--temperature',
  topK: '--top-k',
  topP: '--top-p',
  minP: '--min-p',
  repetitionPenalty: '--repetition-penalty',
  presencePenalty: '--presence-penalty',
  frequencyPenalty: '--frequency-penalty',
  seed: '--seed',
  stop: '--stop',
  logprobs: '--logprobs',
} as const;

/**
 * The generate() options the flags ask for (flags left out stay out, so the library's defaults apply),
 * checked by the library's own rules with messages that name the flag.
 */
export function generationOptions(values: ParsedArgs['values']): GenerateOptions {
  const options: GenerateOptions = {};
  const integers = { maxTokens: 'max-tokens', topK: 'top-k', seed: 'seed', logprobs: 'logprobs' } as const;
  for (const [option, flag] of Object.entries(integers) as [keyof typeof integers, string][]) {
    const value = integerFlag(flag, stringFlag(values, flag));
    if (value !== undefined) options[option] = value;
  }
  const numbers = {
    temperature: 'temperature',
    topP: 'top-p',
    minP: 'min-p',
    repetitionPenalty: 'repetition-penalty',
    presencePenalty: 'presence-penalty',
    frequencyPenalty: 'frequency-penalty',
  } as const;
  for (const [option, flag] of Object.entries(numbers) as [keyof typeof numbers, string][]) {
    const value = numberFlag(flag, stringFlag(values, flag));
    if (value !== undefined) options[option] = value;
  }
  const stop = stringsFlag(values, 'stop');
  if (stop.length > 0) options.stop = stop;
  checkGenerateOptions(options, FLAG_NAMES);
  return options;
}
