import { describe, expect, test } from 'vitest';
import { loadModel, runtimeInfo } from '@org/torch-gen';
import { device, fixtureDir, onCuda, readReferences } from './helpers.js';

// The CUDA path's own choices and failure handling (issue 16): what the CPU tests cannot reach.
const prompts = readReferences().fixtures['llama-kv']!.prompts;
const counting = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + 1 + i);

describe.skipIf(!onCuda)('CUDA backend choices', () => {
  test('a CUDA model loads with the NNC fuser and cuDNN attention off, and the addon has CUDA graphs built in', async () => {
    await using model = await loadModel(fixtureDir('llama-kv'), { device, dtype: 'float16', maxBatch: 1, maxContext: 256 });
    const info = runtimeInfo();
    expect(info.cudaGraphsBuilt).toBe(true);
    expect(info.backend.gpuFuser).toBe(false);
    expect(info.backend.sdpa).not.toContain('cudnn');
    expect((await model.complete(prompts[0]!.prompt_ids, { maxTokens: 4, temperature: 0 })).tokenIds).toHaveLength(4);
  });
});

describe.skipIf(!onCuda)('CUDA graphs that cannot be captured', () => {
  // The faulty-kv fixture reads a tensor on the host in every forward (`bool(tokens == 100)`), which a
  // capture refuses: the first decode step's capture fails.
  test('turn graphs off with the reason, and the model serves every request eagerly', async () => {
    await using model = await loadModel(fixtureDir('faulty-kv'), { device, maxBatch: 2 });
    expect((await model.complete([1], { maxTokens: 6, temperature: 0 })).tokenIds).toEqual(counting(1, 6));
    const stats = model.stats();
    expect(stats.cudaGraphsCaptured).toBe(0);
    expect(stats.cudaGraphsOff).toMatch(/^CUDA graph capture failed: /);
    // Nothing of the failed capture stays: CUDA's last error is cleared and the allocator is out of capture mode.
    const results = await Promise.all([model.complete([10], { maxTokens: 8, temperature: 0 }), model.complete([40], { maxTokens: 8, temperature: 0 })]);
    expect(results.map((r) => r.tokenIds)).toEqual([counting(10, 8), counting(40, 8)]);
  });
});

describe.skipIf(!onCuda)('two models on one GPU', () => {
  test('decode side by side on their own streams and give what each gives alone', async () => {
    const options = { device, dtype: 'float32', maxBatch: 1, maxContext: 256 } as const;
    await using first = await loadModel(fixtureDir('llama-kv'), options);
    await using second = await loadModel(fixtureDir('gpt2-kv'), options);
    const secondPrompt = readReferences().fixtures['gpt2-kv']!.prompts[0]!.prompt_ids;
    const greedy = { maxTokens: 32, temperature: 0 };
    const alone = [await first.complete(prompts[0]!.prompt_ids, greedy), await second.complete(secondPrompt, greedy)];
    const together = await Promise.all([first.complete(prompts[0]!.prompt_ids, greedy), second.complete(secondPrompt, greedy)]);
    expect(together.map((r) => r.tokenIds)).toEqual(alone.map((r) => r.tokenIds));
  });
});
