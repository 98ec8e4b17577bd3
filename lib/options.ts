/**
 * Validation and defaults for every public option. Each check names the option, the expected type or
 * range, and the value received; native code then gets concrete values only.
 */
import { OptionError } from './errors.js';

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export type Dtype = 'float32' | 'float16' | 'bfloat16';

export interface LoadModelOptions {
  /**
   * Where the model runs: `'cpu'`, `'cuda'` (the first GPU), `'cuda:N'`, or `'auto'` (the first GPU
   * when CUDA is available, else the CPU). Default `'auto'`.
   */
  device?: Device;
  /**
   * The dtype of the weights and activations. Default `'float16'` on CUDA and `'float32'` on the CPU
   * (libtorch's CPU half-precision kernels are slow). `'bfloat16'` on request.
   */
  dtype?: Dtype;
  /**
   * The most requests that decode together (the KV-cache pool's slots, allocated once at load);
   * more requests wait in a queue. Integer in [1, 1024]. Default 4. `logits` models run one at a time.
   */
  maxBatch?: number;
  /**
   * The tokens (prompt plus generated) each request can hold, in [2, the model's max_context]. It sizes
   * the KV cache: memory grows with maxBatch x maxContext. Default: the model's max_context, at most 2048.
   */
  maxContext?: number;
}

export interface GenerateOptions {
  /**
   * The most tokens to generate, in [1, 1048576]. Generation also ends at an end-of-sequence token or
   * when the model's context is full (finish reason `'length'`). Default 256.
   * @example { maxTokens: 64 }
   */
  maxTokens?: number;
  /** Cancels the generation: it ends within one step with finish reason `'abort'`. */
  signal?: AbortSignal;
}

export interface ResolvedGenerateOptions {
  maxTokens: number;
  signal: AbortSignal | undefined;
}

export const DEFAULT_MAX_TOKENS = 256;
const MAX_TOKENS_LIMIT = 1 << 20;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function optionError(name: string, expected: string, value: unknown): OptionError {
  return new OptionError(`${name}: expected ${expected}, received ${describe(value)}`);
}

function checkKnownKeys(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new OptionError(`${what}: unknown option \`${key}\`; known options are ${known.map((k) => `\`${k}\``).join(', ')}`);
    }
  }
}

function checkObject(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw optionError(what, 'an options object', options);
  }
  return options as Record<string, unknown>;
}

const DEVICE_PATTERN = /^(auto|cpu|cuda|cuda:\d+)$/;

export const DEFAULT_MAX_BATCH = 4;
export const DEFAULT_MAX_CONTEXT_CAP = 2048;

export interface ResolvedLoadOptions {
  device: string;
  dtype: Dtype;
  maxBatch: number;
  maxContext: number;
}

/** `modelMaxContext` is the manifest's max_context, the bound of the maxContext option. */
export function resolveLoadOptions(
  options: unknown,
  cudaAvailable: () => boolean,
  modelMaxContext: number,
): ResolvedLoadOptions {
  const raw = checkObject(options, 'loadModel options');
  checkKnownKeys(raw, ['device', 'dtype', 'maxBatch', 'maxContext'], 'loadModel');
  const device = raw.device ?? 'auto';
  if (typeof device !== 'string' || !DEVICE_PATTERN.test(device)) {
    throw optionError('device', "'auto', 'cpu', 'cuda' or 'cuda:N'", device);
  }
  const resolvedDevice = device === 'auto' ? (cudaAvailable() ? 'cuda' : 'cpu') : device;
  const dtype = raw.dtype ?? (resolvedDevice === 'cpu' ? 'float32' : 'float16');
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') {
    throw optionError('dtype', "'float32', 'float16' or 'bfloat16'", dtype);
  }
  const maxBatch = raw.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!isIntegerIn(maxBatch, 1, 1024)) throw optionError('maxBatch', 'an integer in [1, 1024]', maxBatch);
  const maxContext = raw.maxContext ?? Math.min(modelMaxContext, DEFAULT_MAX_CONTEXT_CAP);
  if (!isIntegerIn(maxContext, 2, modelMaxContext)) {
    throw optionError('maxContext', `an integer in [2, ${modelMaxContext}] (the model's context)`, maxContext);
  }
  return { device: resolvedDevice, dtype, maxBatch, maxContext };
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

export function resolveGenerateOptions(options: unknown): ResolvedGenerateOptions {
  const raw = checkObject(options, 'generate options');
  checkKnownKeys(raw, ['maxTokens', 'signal'], 'generate');
  const maxTokens = raw.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!isIntegerIn(maxTokens, 1, MAX_TOKENS_LIMIT)) {
    throw optionError('maxTokens', `an integer in [1, ${MAX_TOKENS_LIMIT}]`, maxTokens);
  }
  const signal = raw.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw optionError('signal', 'an AbortSignal', signal);
  }
  return { maxTokens, signal };
}
