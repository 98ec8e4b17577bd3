import { existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, ModelLoadError, runtimeInfo, type Model } from '@org/torch-gen';
import { copyFixture, defaultModelDir, editManifest, fixture, readExpected } from '../helpers.js';
import { loadError } from '../load-error.js';

// AOTInductor packages (model.pt2, `--format aoti`): what model.info says of one, and each package this
// process cannot run, refused at load with a ModelLoadError that names the reason and the fix. The refusals
// tamper with the manifest of a copy of the llama fixture's package. (Greedy parity per architecture:
// kv-cache.test.ts; the engine's batching, queue and abort tests: engine.test.ts.)
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function tampered(edit: (aoti: Record<string, unknown>, manifest: Record<string, unknown>) => void): string {
  const copy = copyFixture('llama-kv-aoti');
  cleanups.push(copy.cleanup);
  editManifest(copy.dir, (manifest) => edit(manifest.aoti as Record<string, unknown>, manifest));
  return copy.dir;
}

describe('an AOTInductor model', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('llama-kv-aoti'), { threads: 1 });
  });
  afterAll(() => model.dispose());

  test('loads on the device and in the dtype it was compiled for, and says it is a package', () => {
    expect(model.info).toMatchObject({ device: 'cpu', dtype: 'float32', interface: 'kv-cache' });
    expect(model.info.graphOptimization).toBe('AOTInductor package (compiled kernels)');
    expect(model.info.parameters).toBeGreaterThan(0);
  });

  test('logprobs equal the TorchScript model’s on the same weights', async () => {
    const torchscript = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 1 });
    try {
      const prompt = readExpected('llama-kv').prompts[0]!.prompt_ids;
      const options = { maxTokens: 8, temperature: 0, logprobs: 3 } as const;
      const [compiled, scripted] = await Promise.all([model.complete(prompt, options), torchscript.complete(prompt, options)]);
      expect(compiled.tokenIds).toEqual(scripted.tokenIds);
      compiled.logprobs!.forEach((step, i) => expect(step.logprob).toBeCloseTo(scripted.logprobs![i]!.logprob, 4));
    } finally {
      await torchscript.dispose();
    }
  });
});

describe('a package this process cannot run is refused at load', () => {
  test('one compiled for another device', async () => {
    const dir = tampered((aoti) => (aoti.device = 'cuda'));
    const error = await loadError(dir, { device: 'cpu' });
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toBe(
      `${dir} is an AOTInductor package compiled for cuda, which cannot run on cpu: load it with device 'cuda', or ` +
        're-export the model with `python -m torch_gen_export SRC -o DIR --format aoti --device cpu`',
    );
  });

  test('one compiled for instructions this CPU lacks', async () => {
    const foreign = process.arch === 'arm64' ? 'avx512' : 'neon';
    const lacking = process.arch === 'arm64' ? 'AVX-512' : 'the neon instructions of ARM';
    const dir = tampered((aoti) => (aoti.cpu_isa = foreign));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toBe(
      `${dir} is an AOTInductor package compiled for CPUs with ${lacking}, which this CPU lacks; re-export the model ` +
        'with `python -m torch_gen_export SRC -o DIR --format aoti --device cpu` on this machine (or one with the same instruction set)',
    );
  });

  test.runIf(!runtimeInfo().cpuFeatures.amx)('one compiled for AMX on a CPU without it', async () => {
    const dir = tampered((aoti) => (aoti.cpu_isa = 'amx'));
    expect((await loadError(dir)).message).toMatch(/compiled for CPUs with AMX, which this CPU lacks/);
  });

  // Under a oneDNN cap below AVX-512 (fixed for the process at its first CPU load, so tested in processes of
  // their own): onednn-isa-cap.test.ts.

  test('one compiled by a newer torch', async () => {
    const dir = tampered((aoti) => (aoti.torch = '99.1.0+cpu'));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(
      new RegExp(
        `^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is an AOTInductor package compiled with torch 99\\.1\\.0\\+cpu, newer than this libtorch ` +
          `\\(${runtimeInfo().torchVersion.replace(/[.+]/g, '\\$&')}\\), which cannot load it: re-export the model with .* under torch \\d+\\.\\d+\\.\\d+ or older, or upgrade libtorch$`,
      ),
    );
  });

  test('one loaded in a dtype it was not compiled for', async () => {
    const error = await loadError(fixture('llama-kv-aoti'), { dtype: 'bfloat16' });
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(/is an AOTInductor package compiled for float32, and its kernels cannot cast: load it with dtype 'float32' \(or 'auto'\), or re-export the model with .*--dtype bfloat16`$/);
  });

  test('a manifest that pairs a package with the logits interface', async () => {
    const dir = tampered((_aoti, manifest) => (manifest.interface = 'logits'));
    expect((await loadError(dir)).message).toMatch(/torch-gen\.json: an AOTInductor package \(`aoti`\) implements the "kv-cache" interface only/);
  });

  test('a package file that is not one', async () => {
    const dir = tampered(() => undefined);
    truncateSync(join(dir, 'model.pt2'), 1000);
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(/model\.pt2 could not be loaded as an AOTInductor package \(.+\); re-export the model with `--format aoti` on this machine$/);
  });

  test('a missing package file', async () => {
    const dir = tampered((aoti) => (aoti.file = 'other.pt2'));
    expect((await loadError(dir)).message).toMatch(/other\.pt2 \(the AOTInductor package\) is missing or empty; re-export the model$/);
  });
});

// The default model compiled by `npm run model:default -- --aoti-variant` (~2 min on 2 CPUs; skipped when it
// is not there): the greedy tokens transformers and the TorchScript export give (smollm2.test.ts), alone and
// four at a time.
const smollm2Aoti = `${defaultModelDir}-aoti`;
describe.runIf(existsSync(join(smollm2Aoti, 'torch-gen.json')))('SmolLM2-135M-Instruct as an AOTInductor package', () => {
  const expected = readExpected('smollm2-reference');
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(smollm2Aoti, { device: 'cpu', maxBatch: 4, maxContext: 512 });
  });
  afterAll(() => model.dispose());

  test('greedy tokens equal transformers generate() and the TorchScript model, alone and batched', async () => {
    // Frozen: the tied embedding is also prepacked as the output layer's oneDNN weight, so it counts twice.
    expect(model.info.parameters).toBe(134_515_008 + 49152 * 576 + 32);
    for (const prompt of expected.prompts) {
      expect((await model.complete(prompt.prompt_ids, { maxTokens: expected.max_new_tokens })).tokenIds).toEqual(prompt.generated_ids);
    }
    const together = await Promise.all(expected.prompts.map((p) => model.complete(p.prompt_ids, { maxTokens: expected.max_new_tokens })));
    together.forEach((result, i) => expect(result.tokenIds).toEqual(expected.prompts[i]!.generated_ids));
  }, 180_000); // ~25 s on 2 idle CPUs: 8 x 64 tokens
});
