/**
 * The only file that loads the compiled addon. It declares the native interface; everything native is
 * named `Native*` so it is clear which side of the boundary a value lives on.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debug } from './debug.js';
import { NativeBindingError } from './errors.js';
import type { ResolvedSampling } from './options.js';

/** What the addon needs to load a model: concrete values only (TypeScript resolves every default). */
export interface NativeModelSpec {
  modelPath: string;
  /** What modelPath holds: a TorchScript module or an AOTInductor package (kv-cache interface only). */
  moduleFormat: 'torchscript' | 'aoti';
  interface: 'logits' | 'kv-cache';
  vocabSize: number;
  maxContext: number;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** KV-cache slots: requests decoded together. */
  maxBatch: number;
  /** Requests that may wait for a slot. */
  maxQueue: number;
  /** Prompt tokens per engine step. */
  prefillChunk: number;
  /** Memory for cached prompt prefixes; 0: prefix caching off. */
  prefixCacheMiB: number;
  device: string;
  dtype: 'float32' | 'float16' | 'bfloat16';
  /** Replay the decode step as CUDA graphs (CUDA, kv-cache interface). */
  cudaGraphs: boolean;
  cudaGraphBatchSizes: number[];
  /** CPU threads of the engine's forward passes. */
  threads: number;
  /** Freeze and optimize the TorchScript graph at load (CPU). */
  optimizeGraph: boolean;
  /**
   * The model's tokenizer.json, from which the grammar engine takes the vocabulary (each token's bytes) at
   * load. loadModel() always gives it; a spec without it loads a model whose constrained requests are
   * refused (ERR_GRAMMAR_UNAVAILABLE).
   */
  tokenizerPath?: string;
  /** End-of-sequence ids: what a constraint allows once complete. Given with tokenizerPath. */
  eosTokenIds?: number[];
}

/** The sampler's parameters, every one concrete (lib/options.ts resolves them). */
export type NativeSampling = ResolvedSampling;

/**
 * A compiled constraint (the grammar engine's matcher in its start state, cloned for every request that uses
 * it): an opaque native handle, only passed back to generate().
 */
export interface NativeConstraint {
  readonly __nativeConstraint: never;
}

/** The grammar engine's kinds of constraint. */
export type NativeConstraintKind = 'json_schema' | 'regex' | 'lark';

export interface NativeGenerationRequest {
  tokens: Int32Array;
  maxTokens: number;
  stopTokenIds: number[];
  sampling: NativeSampling;
  /** Present for a constrained request (responseFormat). */
  constraint?: NativeConstraint;
}

export interface NativeLogprob {
  logprob: number;
  top: { tokenId: number; logprob: number }[];
}

/** `'stop'` only at a stop token (stop strings are the TypeScript layer's). */
export type NativeFinishReason = 'stop' | 'length' | 'abort' | 'error';

/** Tokens produced for one request since its last event; the last event has a finish reason. */
export interface NativeEvent {
  requestId: number;
  tokenIds: number[];
  /** One per token id when the request asked for logprobs. */
  logprobs?: NativeLogprob[];
  /** Set on a request's last event only. */
  finishReason?: NativeFinishReason;
  errorCode?: string;
  errorMessage?: string;
}

export interface NativeModel {
  /** Queues a request; returns its id. Throws on invalid input or after dispose. */
  generate(request: NativeGenerationRequest): number;
  /**
   * Compiles a constraint against the model's vocabulary, on a worker thread. Rejects with code
   * ERR_INVALID_ARGUMENT and the engine's message when it cannot, ERR_GRAMMAR_UNAVAILABLE without the engine.
   */
  compileConstraint(kind: NativeConstraintKind, source: string): Promise<NativeConstraint>;
  stats(): NativeStats;
  /** Ends a request at the next step with finish reason "abort". Unknown ids are ignored. */
  cancel(requestId: number): void;
  /** Stops the engine thread now, synchronously, without delivering events: for process exit only. */
  stopNow(): void;
  /** Aborts everything in flight, delivers the last events, stops the engine and frees its memory. */
  dispose(): Promise<void>;
}

export interface NativeStats {
  active: number;
  queued: number;
  tokensGenerated: number;
  promptTokens: number;
  requestsFinished: number;
  cacheBytes: number;
  weightBytes: number;
  parameters: number;
  deviceAllocatedBytes: number;
  devicePeakBytes: number;
  deviceReservedBytes: number;
  cudaGraphsCaptured: number;
  /** Why the decode step runs eagerly on a CUDA device; absent while CUDA graphs are on, and on the CPU. */
  cudaGraphsOff?: string;
  deviceFedSteps: number;
  threads: number;
  graphNodes: number;
  graphOptimization: string;
  prefixCache: NativePrefixCacheStats;
}

/** The prefix cache's figures; all zero when it is off. */
export interface NativePrefixCacheStats {
  bytes: number;
  blockTokens: number;
  capacityBlocks: number;
  cachedTokens: number;
  hits: number;
  hitTokens: number;
  evictions: number;
}

/** Instruction sets libtorch's CPU kernels can use on this machine. */
export interface CpuFeatures {
  avx2: boolean;
  avx512: boolean;
  avx512Vnni: boolean;
  /** bfloat16 dot products (oneDNN runs bfloat16 matmuls at bfloat16 speed with it or with AMX). */
  avx512Bf16: boolean;
  amx: boolean;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  cudaBuild: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cpuThreads: number;
  cudaGraphsBuilt: boolean;
  backend: NativeBackendSettings;
  cpuFeatures: CpuFeatures;
  /** The grammar engine built into the addon ('llguidance 1.9.1'), or '' when it was built without one. */
  grammarEngine: string;
}

export interface NativeBackendSettings {
  executor: 'profiling' | 'simple' | 'legacy';
  gpuFuser: boolean;
  cpuFuser: boolean;
  sdpa: string[];
  /** CPU models loaded from now on get oneDNN's linear layers (TORCH_GEN_ONEDNN_LINEAR=off: libtorch's). */
  onednnLinear: boolean;
  /** oneDNN's instruction-set cap in this process (native/core/onednn_isa.h). */
  onednnIsaCap: OneDnnIsaCap;
}

export interface OneDnnIsaCap {
  /** The cap oneDNN runs with, e.g. 'AVX2' (ONEDNN_MAX_CPU_ISA); null: none, every instruction set the CPU has. */
  value: string | null;
  /** Who set it: the process environment, or torch-gen at the first CPU model load; null when none. */
  source: 'environment' | 'torch-gen' | null;
}

export interface NativeAddon {
  runtimeInfo(): NativeRuntimeInfo;
  /** Fixes oneDNN's cap for the process at the first CPU load ('' asks for none) and returns it; later calls return it. */
  fixOneDnnIsaCap(wanted: string): OneDnnIsaCap;
  loadModel(spec: NativeModelSpec, onEvents: (events: NativeEvent[]) => void): Promise<NativeModel>;
  /** Test hook: the sampler's logit processing (penalties, temperature, filters) on the CPU. */
  _processLogits(
    logits: Float32Array,
    vocab: number,
    rows: { sampling: NativeSampling; prompt: number[]; generated: number[] }[],
  ): Float32Array;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the addon is looked for: TORCH_GEN_ADDON, then the cmake-js / node-gyp output. */
export function addonPath(): string {
  return process.env.TORCH_GEN_ADDON ?? join(packageRoot, 'build', 'Release', 'torch_gen.node');
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new NativeBindingError(
      `the torch-gen addon is not built (${path} is missing); run \`npm run build:native\` ` +
        '(it needs libtorch: `npm run setup:libtorch`, or TORCH_GEN_LIBTORCH pointing at one)',
    );
  }
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const missingLibrary = /lib[\w.+-]+\.so[\w.]*/.exec(reason)?.[0];
    throw new NativeBindingError(
      `the torch-gen addon at ${path} failed to load: ${reason}. ` +
        (missingLibrary
          ? `A shared library (${missingLibrary}) was not found: the libtorch the addon was built against has ` +
            'moved or is gone. Run `npm run setup:libtorch && npm run build:native`.'
          : 'Rebuild it with `npm run build:native`.'),
      { cause: error },
    );
  }
  debug('loaded addon %s', path);
  return addon;
}
