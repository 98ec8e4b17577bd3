/** The model-loading flags the commands share, and loading with a progress line. */
import { loadModel } from '../load-model.js';
import type { Model } from '../model.js';
import type { OptionName } from '../option-table.js';
import type { LoadModelOptions } from '../options.js';
import { DEFAULT_MODEL_DIR, stringFlag, type ParsedArgs } from './args.js';
import { renameOptionError } from '../option-names.js';
import { flagName, optionFlags, optionHelp, optionsFromFlags, type FlagConfig } from './option-flags.js';
import type { Progress } from './progress.js';

/** The load options every serving command takes, in their help's order. */
const LOAD_OPTIONS = ['device', 'dtype', 'maxContext', 'threads', 'maxBatch', 'maxQueue', 'prefillChunk', 'prefixCacheMiB', 'cudaGraphs'] as const satisfies readonly OptionName[];
/** The one-user commands (generate, chat) have no batching or queue to size. */
const SINGLE_USER_LOAD_OPTIONS = ['device', 'dtype', 'threads', 'maxContext'] as const satisfies readonly OptionName[];

const MODEL_FLAG: FlagConfig = { model: { type: 'string', short: 'm' } };

export const LOAD_FLAGS: FlagConfig = { ...MODEL_FLAG, ...optionFlags(LOAD_OPTIONS) };
export const SINGLE_USER_LOAD_FLAGS: FlagConfig = { ...MODEL_FLAG, ...optionFlags(SINGLE_USER_LOAD_OPTIONS) };

export const MODEL_HELP = `  -m, --model DIR               model directory (default: $TORCH_GEN_MODEL or ${DEFAULT_MODEL_DIR})`;
export const LOAD_HELP = optionHelp(LOAD_OPTIONS);
export const SINGLE_USER_LOAD_HELP = optionHelp(SINGLE_USER_LOAD_OPTIONS);

export function modelDir(values: ParsedArgs['values']): string {
  return stringFlag(values, 'model') ?? process.env.TORCH_GEN_MODEL ?? DEFAULT_MODEL_DIR;
}

/** loadModel() options from the flags; flags left out stay out (the library's defaults apply). */
export function loadOptions(values: ParsedArgs['values']): LoadModelOptions {
  return optionsFromFlags(values, LOAD_OPTIONS) as LoadModelOptions;
}

const millions = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${Math.round(n / 1e6)}M` : `${Math.round(n / 1e3)}K`);

/** Loads a model while the progress line counts the seconds. */
export async function loadWithProgress(dir: string, options: LoadModelOptions, progress: Progress): Promise<Model> {
  progress.start(`loading ${dir}`);
  try {
    const model = await loadModel(dir, options);
    const { architecture, parameters, device, dtype, maxBatch, maxContext } = model.info;
    progress.done(
      `loaded ${dir} in {s} s (${architecture}, ${millions(parameters)} parameters, ${device} ${dtype}, ` +
        `${maxBatch} slot${maxBatch === 1 ? '' : 's'} x ${maxContext} tokens)`,
    );
    return model;
  } catch (error) {
    progress.fail();
    // An option the user gave as a flag is named as the flag: `--threads: expected ...`.
    throw renameOptionError(error, flagName);
  }
}
