// The faulty-kv fixture's tokens and the helpers its tests share (python/fixtures/faulty_kv.py). It continues
// token t with t + 1, so a test knows in advance which token each request feeds at each step, and each of
// these tokens, once fed, makes its forward fail in one way.
import type { Model } from '@org/torch-gen';

export const FAULTY = {
  fail: 100, // raises a tensor error
  oom: 200, // asks the CPU allocator for 4 TiB
  nan: 250, // writes NaN keys; a row that attends to a non-finite key continues with 0
  slow: 260, // spends a quarter of a second or so on matrix products
  cudaError: 300, // raises libtorch's text for a sticky CUDA error (an illegal memory access)
  cudaOom: 310, // raises libtorch's text for a CUDA out-of-memory error
} as const;

/** Greedy generation of `maxTokens`, collecting the ids and the error that ended it, if any. */
export async function run(model: Model, prompt: number[], maxTokens: number): Promise<{ ids: number[]; error?: unknown }> {
  const ids: number[] = [];
  try {
    for await (const chunk of model.generate(prompt, { temperature: 0, maxTokens })) ids.push(...chunk.tokenIds);
    return { ids };
  } catch (error) {
    return { ids, error };
  }
}

/** The `count` tokens the fixture continues `from` with: from + 1, from + 2, ... */
export const counting = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + 1 + i);
