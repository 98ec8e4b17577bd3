/** The model-loading flags the commands share, and loading with a progress line. */
import type { ParseArgsConfig } from 'node:util';
import { loadModel } from '../load-model.js';
import type { Model } from '../model.js';
import type { Device, Dtype, LoadModelOptions } from '../options.js';
import { DEFAULT_MODEL_DIR, integerFlag, stringFlag, type ParsedArgs } from './args.js';
import type { Progress } from './progress.js';

export const LOAD_FLAGS = {
  model: { type: 'string', short: 'm' },
  device: { type: 'string' },
  dtype: { type: 'string' },
  'max-context': { type: 'string' },
  'max-batch': { type: 'string' },
  'max-queue': { type: 'string' },
  'prefill-chunk': { type: 'string' },
  'no-cuda-graphs': { type: 'boolean' },
  threads: { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** The loading flags of the one-user commands (generate, chat): no batching or queue to size. */
export const SINGLE_USER_LOAD_FLAGS = {
  model: LOAD_FLAGS.model,
  device: LOAD_FLAGS.device,
  dtype: LOAD_FLAGS.dtype,
  'max-context': LOAD_FLAGS['max-context'],
  threads: LOAD_FLAGS.threads,
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const MODEL_HELP = `  -m, --model DIR               model directory (default: $TORCH_GEN_MODEL or ${DEFAULT_MODEL_DIR})`;

export const LOAD_HELP = `      --device DEVICE           auto, cpu, cuda or cuda:N (default auto)
      --dtype DTYPE             float32, float16, bfloat16 or auto (default: float16 on CUDA, float32 on CPU;
                                auto: bfloat16 on a CPU with bfloat16 instructions)
      --max-context N           tokens per request the KV cache holds (default: the model's, at most 2048)
      --threads N               CPU threads for the model (default: the physical cores)
      --max-batch N             requests decoded together (KV-cache slots)
      --max-queue N             requests that may wait for a slot (default 1024)
      --prefill-chunk N         prompt tokens per engine step (default 256)
      --no-cuda-graphs          run the decode step eagerly on CUDA instead of replaying CUDA graphs`;

export function modelDir(values: ParsedArgs['values']): string {
  return stringFlag(values, 'model') ?? process.env.TORCH_GEN_MODEL ?? DEFAULT_MODEL_DIR;
}

/** loadModel() options from the flags; flags left out stay out (the library's defaults apply). */
export function loadOptions(values: ParsedArgs['values']): LoadModelOptions {
  const options: LoadModelOptions = {};
  const device = stringFlag(values, 'device');
  if (device !== undefined) options.device = device as Device;
  const dtype = stringFlag(values, 'dtype');
  if (dtype !== undefined) options.dtype = dtype as Dtype | 'auto';
  const integers = {
    maxContext: 'max-context',
    maxBatch: 'max-batch',
    maxQueue: 'max-queue',
    prefillChunk: 'prefill-chunk',
    threads: 'threads',
  } as const;
  for (const [option, flag] of Object.entries(integers) as [keyof typeof integers, string][]) {
    const value = integerFlag(flag, stringFlag(values, flag));
    if (value !== undefined) options[option] = value;
  }
  if (values['no-cuda-graphs'] === true) options.cudaGraphs = false;
  return options;
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
    throw error;
  }
}
