/**
 * Validation and defaults for every public option, by the rows of option-table.ts. Each check names the
 * option, the expected type or range, and the value received; native code then gets concrete values only.
 */
import type { CpuFacts } from './cpu.js';
import { OptionError } from './errors.js';
import { expectedText, optionSpec, optionsOf, type OptionName } from './option-table.js';
import { resolveResponseFormat, type ResolvedResponseFormat, type ResponseFormat } from './response-format.js';

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
   * (exact parity with transformers; libtorch's CPU float16 kernels are slow). `'bfloat16'` on request: on a
   * CPU it is about twice as fast as float32 where the CPU has bfloat16 instructions (avx512_bf16 or AMX,
   * see `runtimeInfo().cpuFeatures`) and slower where it has not (a warning says so). `'auto'` picks
   * `'float16'` on CUDA, and on the CPU `'bfloat16'` where it is native, else `'float32'`.
   * @example { device: 'cpu', dtype: 'auto' }
   */
  dtype?: Dtype | 'auto';
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
  /**
   * The most requests that wait for a slot; a request beyond it is refused at once with QueueFullError
   * (a server turns that into 429). Integer >= 0. Default 1024.
   */
  maxQueue?: number;
  /**
   * Prompt tokens fed per engine step. A long prompt is prefilled in chunks of this size, so requests
   * already generating keep getting tokens meanwhile; smaller chunks mean smoother streams and a slower
   * prefill. Integer in [1, 65536]. Default 256.
   */
  prefillChunk?: number;
  /**
   * MiB of memory kept, beside the KV cache, for the keys and values of prompt prefixes: a request that
   * begins with tokens an earlier (or a running) request computed starts from them and prefills only the
   * rest, with exactly the tokens it would generate without the cache. Blocks of 16 tokens, least recently
   * used evicted; `stats().prefixCache` reports hits and evictions. Multi-turn chats reuse their earlier
   * turns this way. Integer in [0, 1048576]; 0 turns prefix caching off. Default: as large as the KV cache
   * (the keys and values of maxBatch x maxContext tokens). Allocated at load; the kv-cache interface only.
   * @example { prefixCacheMiB: 512 }
   */
  prefixCacheMiB?: number;
  /**
   * On a CUDA device, capture the decode step as CUDA graphs (one per batch size and cache-length bucket)
   * and replay them: a small model's step is then one launch instead of hundreds. A capture that fails
   * turns graphs off and the step runs eagerly (`stats().cudaGraphsOff` says why). Ignored on the CPU.
   * Default true.
   */
  cudaGraphs?: boolean;
  /**
   * The batch sizes whose decode-step graphs are captured at load, for every cache-length bucket (256, 512,
   * ... up to maxContext), so that serving never stops to capture. A step of another batch size runs the
   * graph of the next larger size, its extra rows padding. Distinct integers in [1, maxBatch]; a batch larger
   * than the largest runs eagerly. Default: the powers of two below maxBatch, and maxBatch.
   * @example { maxBatch: 32, cudaGraphBatchSizes: [1, 8, 32] }
   */
  cudaGraphBatchSizes?: number[];
  /**
   * CPU threads for this model's forward passes, an integer in [1, 1024]. Default: OMP_NUM_THREADS when
   * the environment sets it, else the physical cores this process may use. Each loaded model runs its own
   * team of threads, and two teams on a machine with few cores slow each other even while only one model
   * generates (docs/architecture.md, Threads): give several models in one process `threads: 1` each on two
   * cores. `stats().threads` reports the count in use. Ignored on CUDA, where the GPU does the work.
   * @example { threads: 2 }
   */
  threads?: number;
  /**
   * On the CPU, freeze the TorchScript module at load (weights become constants, attribute lookups and
   * submodule calls go) and run its float32/bfloat16 linear layers in oneDNN on weights laid out once for
   * it, which uses every thread even for one row. Turn it off only to diagnose a module that behaves
   * differently frozen. `info.graphOptimization` says what was done. Default true.
   */
  optimizeGraph?: boolean;
}

export interface GenerateOptions {
  /**
   * The most tokens to generate, in [1, 1048576]. Generation also ends at an end-of-sequence token, a
   * stop string, or when the request's context is full (finish reason `'length'`). Default 256.
   * @example { maxTokens: 64 }
   */
  maxTokens?: number;
  /**
   * Sampling temperature in [0, 100]. 0 picks the most likely token every time (greedy); higher values
   * flatten the distribution. Default: the model's generation_config.json when it samples, else 0.
   * @example { temperature: 0.7 }
   */
  temperature?: number;
  /** Keep only the k most likely tokens, an integer >= 0; 0 turns it off. Default 0 (or the model's). */
  topK?: number;
  /**
   * Nucleus sampling: keep the smallest set of tokens whose probability reaches topP, in (0, 1];
   * 1 turns it off. Applied after topK. Default 1 (or the model's).
   */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one, in [0, 1]; 0 turns it off. Default 0. */
  minP?: number;
  /**
   * Hugging Face's repetition penalty, in (0, 100]: logits of tokens already in the prompt or the output
   * are divided by it (multiplied when negative). 1 turns it off. Default 1.
   */
  repetitionPenalty?: number;
  /** OpenAI's presence penalty, in [-2, 2]: subtracted once from tokens already generated. Default 0. */
  presencePenalty?: number;
  /** OpenAI's frequency penalty, in [-2, 2]: subtracted per occurrence in the output so far. Default 0. */
  frequencyPenalty?: number;
  /**
   * Seed of the request's random stream, an integer in [0, 2^53). The same seed and options give the same
   * tokens, also while other requests run beside it. Default: a random seed.
   */
  seed?: number;
  /**
   * Text that ends the generation (finish reason `'stop'`). The stop string itself is never emitted, also
   * when it spans several tokens. Up to 16 strings, each non-empty.
   * @example { stop: ['\n\n', 'User:'] }
   */
  stop?: string | readonly string[];
  /** Token ids that end the generation, in addition to the model's end-of-sequence ids. */
  stopTokenIds?: readonly number[];
  /**
   * Report log-probabilities: each chunk's `logprobs` holds, per token, its log-probability under the
   * model (before temperature and filtering) and the `logprobs` most likely alternatives. Integer in
   * [0, 20]; 0 turns it off. Default 0.
   */
  logprobs?: number;
  /**
   * What to do with a prompt that does not fit: `false` (default) throws ContextLengthError; `true` drops
   * tokens from its start so that the prompt and maxTokens fit in the context, keeping at least half of
   * the context for the prompt. `usage.promptTokens` counts the tokens kept.
   */
  truncate?: boolean;
  /**
   * Constrains what is sampled so that the text is JSON (any object, or one matching a JSON schema), a whole
   * match of a regular expression, or a sentence of a Lark grammar: tokens the format does not allow are
   * never drawn, at any temperature. Generation ends with finish reason `'stop'` when the format is
   * complete; the text then always parses. `'length'` means maxTokens (or the context) cut it first. Needs
   * the grammar engine (`runtimeInfo().grammarEngine`, built where Rust's cargo is installed), else
   * generate() throws GrammarUnavailableError; a schema, pattern or grammar the engine cannot compile is a
   * ResponseFormatError (an OptionError) naming the schema's path, thrown by the stream's first `next()`
   * (compilation runs off the JavaScript thread; the same format is compiled once per model and cached).
   * JSON is written compactly: `, ` and `: ` between items, no other whitespace, unless the schema sets its
   * own layout in `x-guidance`.
   * @example { responseFormat: { type: 'json_schema', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } }
   */
  responseFormat?: ResponseFormat;
  /** Cancels the generation: it ends within one step with finish reason `'abort'`. */
  signal?: AbortSignal;
}

/** What the native sampler gets: every field concrete. */
export interface ResolvedSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  seed: number;
  logprobs: number;
}

export interface ResolvedGenerateOptions {
  maxTokens: number;
  sampling: ResolvedSampling;
  stop: string[];
  stopTokenIds: number[];
  truncate: boolean;
  signal: AbortSignal | undefined;
  /** What the grammar engine compiles; undefined for free text. */
  responseFormat: ResolvedResponseFormat | undefined;
}

/** Sampling defaults a model brings (from its generation_config.json). */
export interface SamplingDefaults {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
}

export const GREEDY_DEFAULTS: SamplingDefaults = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };

export const DEFAULT_MAX_TOKENS = optionSpec('maxTokens').default as number;
export const DEFAULT_MAX_BATCH = optionSpec('maxBatch').default as number;
export const DEFAULT_MAX_CONTEXT_CAP = 2048;
export const DEFAULT_MAX_QUEUE = optionSpec('maxQueue').default as number;
export const DEFAULT_PREFILL_CHUNK = optionSpec('prefillChunk').default as number;

/** A received value as messages show it: a string quoted, a number as is, an object by its kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function invalid(name: OptionName, expected: string, value: unknown): OptionError {
  return new OptionError(name, `expected ${expected}, received ${describeValue(value)}`);
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * `raw[name]` checked against its row of the option table; absent or null means `fallback`, else the
 * table's default. For the options whose type the table states (integer, number, boolean, choice).
 */
function tableOption<T>(raw: Record<string, unknown>, name: OptionName, fallback?: T): T {
  const spec = optionSpec(name);
  const value = raw[name] ?? fallback ?? spec.default;
  const type = spec.type;
  let ok: boolean;
  switch (type.kind) {
    case 'integer':
      ok = isIntegerIn(value, type.min, type.max);
      break;
    case 'number':
      ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (type.minExclusive === true ? value > type.min : value >= type.min) &&
        value <= type.max;
      break;
    case 'boolean':
      ok = typeof value === 'boolean';
      break;
    case 'choice':
      ok = typeof value === 'string' && type.choices.includes(value);
      break;
    case 'special':
      throw new Error(`torch-gen: ${name} has a check of its own`);
  }
  if (!ok) throw invalid(name, expectedText(spec), value);
  return value as T;
}

function checkKnownKeys(options: object, scope: 'load' | 'generate', what: string): void {
  const known = optionsOf(scope).map((spec) => spec.name);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new OptionError(key, `unknown option \`${key}\`; known options are ${known.map((k) => `\`${k}\``).join(', ')}`, { label: what });
    }
  }
}

function checkObject(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new OptionError(null, `${what}: expected an options object, received ${describeValue(options)}`);
  }
  return options as Record<string, unknown>;
}

const DEVICE_PATTERN = /^(auto|cpu|cuda|cuda:\d+)$/;

export interface ResolvedLoadOptions {
  device: string;
  dtype: Dtype;
  maxBatch: number;
  maxContext: number;
  maxQueue: number;
  prefillChunk: number;
  cudaGraphs: boolean;
  cudaGraphBatchSizes: number[];
  threads: number;
  optimizeGraph: boolean;
  /** undefined: the default, which depends on the KV cache's size (lib/memory.ts). */
  prefixCacheMiB: number | undefined;
}

/**
 * The `threads` a model gets when the options do not say: OMP_NUM_THREADS when the environment sets it (a
 * deployment's cap: three replicas on two cores each started with OMP_NUM_THREADS=1 must not run two
 * threads each: their spinning workers cut the throughput to a fifth, BENCHMARKS.md), else the physical cores.
 */
export function defaultThreads(cpu: Pick<CpuFacts, 'cores' | 'environmentThreads'>): number {
  return cpu.environmentThreads ?? cpu.cores;
}

/**
 * The cap on oneDNN's instruction set that a CPU load asks for ('' in the addon: none). oneDNN holds one cap
 * for the whole process, fixed at the first CPU load (native/core/onednn_isa.h); ONEDNN_MAX_CPU_ISA in the
 * environment (e.g. ALL) overrides this. 'AVX2' for a float32 TorchScript kv-cache model on AMD Zen 4: a
 * batch-1 decode step is one-row products, which oneDNN's AVX2 kernels read about 1.4x faster there than its
 * AVX-512 ones (SmolLM2-135M: docs/architecture.md, BENCHMARKS.md). What it costs, taken only when the
 * process's first CPU model is such a model: products of many rows (a long prompt's prefill) run 10-25%
 * slower, and a bfloat16 model or an AOTInductor package loaded later in the same process lacks the AVX-512
 * kernels it needs (loadModel warns, or refuses the package). A `logits` model (the whole sequence every
 * step, never one row), bfloat16, int8 and AOTInductor models, and other CPUs, ask for none.
 */
export function onednnIsaCapFor(
  load: { device: string; dtype: Dtype; quantized: boolean; aoti: boolean; interface: 'kv-cache' | 'logits' },
  cpu: Pick<CpuFacts, 'zen4'>,
): string | null {
  const float32TorchScript = load.device === 'cpu' && load.dtype === 'float32' && !load.quantized && !load.aoti;
  return float32TorchScript && load.interface === 'kv-cache' && cpu.zen4 === true ? 'AVX2' : null;
}

/** onednnIsaCapFor the default model's kind: float32 TorchScript, kv-cache interface, on the CPU. */
export function onednnIsaCapForFloat32(cpu: Pick<CpuFacts, 'zen4'>): string | null {
  return onednnIsaCapFor({ device: 'cpu', dtype: 'float32', quantized: false, aoti: false, interface: 'kv-cache' }, cpu);
}

/** `modelMaxContext` is the manifest's max_context, the bound of the maxContext option. */
export function resolveLoadOptions(
  options: unknown,
  cudaAvailable: () => boolean,
  modelMaxContext: number,
  cpu: CpuFacts = { cores: 1, bfloat16: false },
  quantized = false,
): ResolvedLoadOptions {
  const raw = checkObject(options, 'loadModel options');
  checkKnownKeys(raw, 'load', 'loadModel');
  const device = raw.device ?? optionSpec('device').default;
  if (typeof device !== 'string' || !DEVICE_PATTERN.test(device)) {
    throw invalid('device', expectedText(optionSpec('device')), device);
  }
  // int8 layers (fbgemm) exist on the CPU only, and take float32 activations.
  const resolvedDevice = device === 'auto' ? (!quantized && cudaAvailable() ? 'cuda' : 'cpu') : device;
  if (quantized && resolvedDevice !== 'cpu') {
    throw invalid('device', "'cpu' or 'auto' for an int8 model (its torch-gen.json has `quantization`)", device);
  }
  const requestedDtype = tableOption<Dtype | 'auto'>(raw, 'dtype', resolvedDevice === 'cpu' ? 'float32' : 'float16');
  if (quantized && requestedDtype !== 'float32' && requestedDtype !== 'auto') {
    throw invalid('dtype', "'float32' or 'auto' for an int8 model (its activations are float32)", requestedDtype);
  }
  const dtype: Dtype =
    requestedDtype !== 'auto'
      ? requestedDtype
      : resolvedDevice !== 'cpu'
        ? 'float16'
        : cpu.bfloat16 && !quantized
          ? 'bfloat16'
          : 'float32';
  const maxBatch = tableOption<number>(raw, 'maxBatch');
  const maxContext = raw.maxContext ?? Math.min(modelMaxContext, DEFAULT_MAX_CONTEXT_CAP);
  if (!isIntegerIn(maxContext, 2, modelMaxContext)) {
    throw invalid('maxContext', `an integer in [2, ${modelMaxContext}] (the model's context)`, maxContext);
  }
  const maxQueue = tableOption<number>(raw, 'maxQueue');
  const prefillChunk = tableOption<number>(raw, 'prefillChunk');
  const cudaGraphs = tableOption<boolean>(raw, 'cudaGraphs');
  const cudaGraphBatchSizes = raw.cudaGraphBatchSizes ?? defaultGraphBatchSizes(maxBatch);
  const sizesOk =
    Array.isArray(cudaGraphBatchSizes) &&
    cudaGraphBatchSizes.length > 0 &&
    cudaGraphBatchSizes.every((size) => isIntegerIn(size, 1, maxBatch)) &&
    new Set(cudaGraphBatchSizes).size === cudaGraphBatchSizes.length;
  if (!sizesOk) {
    throw invalid('cudaGraphBatchSizes', `a non-empty array of distinct integers in [1, ${maxBatch}] (maxBatch)`, cudaGraphBatchSizes);
  }
  const threads = tableOption<number>(raw, 'threads', defaultThreads(cpu));
  // undefined: as large as the KV cache, which lib/load-model.ts sizes after this.
  const prefixCacheMiB = raw.prefixCacheMiB === undefined ? undefined : tableOption<number>(raw, 'prefixCacheMiB');
  const optimizeGraph = tableOption<boolean>(raw, 'optimizeGraph');
  return {
    device: resolvedDevice, dtype, maxBatch, maxContext, maxQueue, prefillChunk, cudaGraphs,
    cudaGraphBatchSizes: [...(cudaGraphBatchSizes as number[])].sort((a, b) => a - b), threads, optimizeGraph,
    prefixCacheMiB,
  };
}

/** 1, 2, 4, ... below maxBatch, and maxBatch: every batch pads to at most twice its size. */
export function defaultGraphBatchSizes(maxBatch: number): number[] {
  const sizes: number[] = [];
  for (let size = 1; size < maxBatch; size *= 2) sizes.push(size);
  return [...sizes, maxBatch];
}

/** `vocabSize` bounds stopTokenIds; `defaults` come from the model's generation config. */
export function resolveGenerateOptions(
  options: unknown,
  vocabSize = Number.MAX_SAFE_INTEGER,
  defaults: SamplingDefaults = GREEDY_DEFAULTS,
): ResolvedGenerateOptions {
  const raw = checkObject(options, 'generate options');
  checkKnownKeys(raw, 'generate', 'generate');
  const maxTokens = tableOption<number>(raw, 'maxTokens');
  const temperature = tableOption<number>(raw, 'temperature', defaults.temperature);
  const topK = tableOption<number>(raw, 'topK', defaults.topK);
  const topP = tableOption<number>(raw, 'topP', defaults.topP);
  const minP = tableOption<number>(raw, 'minP', defaults.minP);
  const repetitionPenalty = tableOption<number>(raw, 'repetitionPenalty', defaults.repetitionPenalty);
  const presencePenalty = tableOption<number>(raw, 'presencePenalty');
  const frequencyPenalty = tableOption<number>(raw, 'frequencyPenalty');
  const seed = tableOption<number>(raw, 'seed', Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
  const logprobs = tableOption<number>(raw, 'logprobs');

  const stopRaw = raw.stop ?? [];
  const stop = typeof stopRaw === 'string' ? [stopRaw] : stopRaw;
  if (!Array.isArray(stop) || stop.length > 16 || !stop.every((s) => typeof s === 'string' && s.length > 0)) {
    throw invalid('stop', expectedText(optionSpec('stop')), stopRaw);
  }
  const stopTokenIds = raw.stopTokenIds ?? [];
  if (!Array.isArray(stopTokenIds) || !stopTokenIds.every((id) => isIntegerIn(id, 0, vocabSize - 1))) {
    throw invalid('stopTokenIds', `an array of token ids in [0, ${vocabSize})`, stopTokenIds);
  }
  const truncate = tableOption<boolean>(raw, 'truncate');
  const signal = raw.signal ?? undefined; // null means none, as for every other option
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid('signal', expectedText(optionSpec('signal')), signal);
  }
  const responseFormat = resolveResponseFormat(raw.responseFormat);
  return {
    maxTokens,
    sampling: { temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, logprobs },
    stop: [...(stop as string[])],
    stopTokenIds: [...(stopTokenIds as number[])],
    truncate,
    signal: signal as AbortSignal | undefined,
    responseFormat,
  };
}
