/** Sizes the KV-cache pool so that default options fit the machine. */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import type { Manifest } from './manifest.js';
import type { Dtype } from './options.js';

const DTYPE_BYTES: Record<Dtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

/** Bytes of keys and values for `maxBatch` slots of `maxContext` tokens. */
export function kvCacheBytes(manifest: Manifest, maxBatch: number, maxContext: number, dtype: Dtype): number {
  return 2 * manifest.numLayers * maxBatch * manifest.numKvHeads * maxContext * manifest.headDim * DTYPE_BYTES[dtype];
}

/**
 * MiB kept for cached prompt prefixes when the prefixCacheMiB option is not given: as much as the KV cache
 * (the same number of tokens), so a busy server keeps about as many prefixes as it runs requests. A logits
 * model keeps none (it has no cache to fill from them).
 */
export function defaultPrefixCacheMiB(manifest: Manifest, maxBatch: number, maxContext: number, dtype: Dtype): number {
  if (manifest.interface !== 'kv-cache') return 0;
  return Math.ceil(kvCacheBytes(manifest, maxBatch, maxContext, dtype) / 2 ** 20);
}

/** What the kernel can give without swapping (MemAvailable), or os.freemem() where /proc is absent. */
export function availableHostMemory(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

// Default pools take at most this share of the available memory: the weights and the activations need
// the rest. An explicit maxBatch or maxContext is used as given (the addon refuses what cannot fit).
const DEFAULT_SHARE = 0.25;
const MIN_DEFAULT_CONTEXT = 256;

/**
 * Shrinks the default maxBatch (then the default maxContext) of a CPU model until its cache fits in a
 * quarter of the available memory. `explicit` says which of the two the user set.
 */
export function fitCpuDefaults(
  manifest: Manifest,
  dtype: Dtype,
  sizes: { maxBatch: number; maxContext: number },
  explicit: { maxBatch: boolean; maxContext: boolean },
  available = availableHostMemory(),
): { maxBatch: number; maxContext: number } {
  let { maxBatch, maxContext } = sizes;
  if (manifest.interface !== 'kv-cache') return { maxBatch, maxContext };
  const budget = available * DEFAULT_SHARE;
  while (!explicit.maxBatch && maxBatch > 1 && kvCacheBytes(manifest, maxBatch, maxContext, dtype) > budget) {
    maxBatch = Math.max(1, Math.floor(maxBatch / 2));
  }
  while (!explicit.maxContext && maxContext > MIN_DEFAULT_CONTEXT && kvCacheBytes(manifest, maxBatch, maxContext, dtype) > budget) {
    maxContext = Math.max(MIN_DEFAULT_CONTEXT, Math.floor(maxContext / 2));
  }
  return { maxBatch, maxContext };
}
