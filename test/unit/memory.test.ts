import { describe, expect, test } from 'vitest';
import { parseManifest } from '../../lib/manifest.js';
import { defaultPrefixCacheMiB, fitCpuDefaults, kvCacheBytes } from '../../lib/memory.js';

// A 7B-class manifest (Llama-2 geometry): 32 layers, 32 kv heads of 128, 4096 tokens.
const big = parseManifest({
  format_version: 1, interface: 'kv-cache', vocab_size: 32000, max_context: 4096,
  num_layers: 32, num_kv_heads: 32, head_dim: 128, eos_token_ids: [2],
});
const GiB = 2 ** 30;

describe('default KV-cache sizes', () => {
  test('the cache size is 2 x layers x slots x kv heads x context x head dim x dtype bytes', () => {
    expect(kvCacheBytes(big, 1, 2048, 'float32')).toBe(2 * 32 * 32 * 2048 * 128 * 4);
    expect(kvCacheBytes(big, 4, 2048, 'float16')).toBe(4 * GiB);
  });

  test('defaults shrink maxBatch, then maxContext, to fit a quarter of the available memory', () => {
    // 4 slots x 2048 tokens in float32 is 8 GiB; with 16 GiB available the budget is 4 GiB.
    expect(fitCpuDefaults(big, 'float32', { maxBatch: 4, maxContext: 2048 }, { maxBatch: false, maxContext: false }, 16 * GiB)).toEqual({
      maxBatch: 2,
      maxContext: 2048,
    });
    expect(fitCpuDefaults(big, 'float32', { maxBatch: 4, maxContext: 2048 }, { maxBatch: false, maxContext: false }, 2 * GiB)).toEqual({
      maxBatch: 1,
      maxContext: 512,
    });
    expect(fitCpuDefaults(big, 'float32', { maxBatch: 4, maxContext: 2048 }, { maxBatch: false, maxContext: false }, 0.5 * GiB)).toEqual({
      maxBatch: 1,
      maxContext: 256,
    });
  });

  test('values the user set are kept as given', () => {
    expect(fitCpuDefaults(big, 'float32', { maxBatch: 4, maxContext: 2048 }, { maxBatch: true, maxContext: true }, 2 * GiB)).toEqual({
      maxBatch: 4,
      maxContext: 2048,
    });
  });
});

describe('default prefix-cache budget', () => {
  test('as large as the KV cache, in whole MiB; none for a logits model', () => {
    expect(defaultPrefixCacheMiB(big, 4, 2048, 'float16')).toBe(4096);
    expect(defaultPrefixCacheMiB(big, 1, 100, 'float32')).toBe(Math.ceil(kvCacheBytes(big, 1, 100, 'float32') / 2 ** 20));
    const logits = parseManifest({
      format_version: 1, interface: 'logits', vocab_size: 32000, max_context: 4096,
      num_layers: 32, num_kv_heads: 32, head_dim: 128, eos_token_ids: [2],
    });
    expect(defaultPrefixCacheMiB(logits, 1, 2048, 'float32')).toBe(0);
  });
});
