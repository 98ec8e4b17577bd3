import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { DeviceError, loadModel, ModelLoadError, OptionError, runtimeInfo } from '@org/torch-gen';
import { copyFixture, editManifest, fixture } from '../helpers.js';
import { loadError } from '../load-error.js';

// Broken files in a model directory: each is refused at load with a ModelLoadError whose message names the
// file and the problem. (Modules that load but are not the causal LM their manifest describes:
// module-checks.test.ts.)
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function brokenCopy(name = 'gpt2-logits'): string {
  const copy = copyFixture(name);
  cleanups.push(copy.cleanup);
  return copy.dir;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('loadModel errors', () => {
  test('a missing directory', async () => {
    const error = await loadError('/nonexistent/model');
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toBe(
      'model directory /nonexistent/model does not exist; export one with `python -m torch_gen_export` (or `npm run model:default` for the default model)',
    );
    expect((error as ModelLoadError).code).toBe('ERR_MODEL_LOAD');
  });

  test('a file instead of a directory', async () => {
    const dir = brokenCopy();
    expect((await loadError(join(dir, 'model.pt'))).message).toMatch(/model\.pt is not a directory; pass the model's directory/);
  });

  test('a missing or empty model.pt', async () => {
    const dir = brokenCopy();
    rmSync(join(dir, 'model.pt'));
    const missing = await loadError(dir);
    expect(missing).toBeInstanceOf(ModelLoadError);
    expect(missing.message).toBe(`${join(dir, 'model.pt')} (the TorchScript module) is missing or empty; re-export the model`);
    writeFileSync(join(dir, 'model.pt'), '');
    const empty = await loadError(dir);
    expect(empty).toBeInstanceOf(ModelLoadError);
    expect(empty.message).toBe(`${join(dir, 'model.pt')} (the TorchScript module) is missing or empty; re-export the model`);
  });

  test('a model.pt of random bytes', async () => {
    const dir = brokenCopy();
    writeFileSync(join(dir, 'model.pt'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(new RegExp(`^${escape(dir)}: loading the model failed: model.pt could not be loaded as TorchScript \\(.+\\); export it with torch.jit.save or the torch-gen exporter$`, 's'));
  });

  test('a truncated model.pt', async () => {
    const dir = brokenCopy();
    const bytes = readFileSync(join(fixture('gpt2-logits'), 'model.pt'));
    writeFileSync(join(dir, 'model.pt'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(new RegExp(`^${escape(dir)}: loading the model failed: model.pt could not be loaded as TorchScript \\(.+\\); export it with torch.jit.save or the torch-gen exporter$`, 's'));
  });

  test('a missing, non-JSON or incomplete manifest', async () => {
    const dir = brokenCopy();
    writeFileSync(join(dir, 'torch-gen.json'), 'not json');
    const notJson = await loadError(dir);
    expect(notJson).toBeInstanceOf(ModelLoadError);
    expect(notJson.message).toMatch(new RegExp(`^${escape(join(dir, 'torch-gen.json'))} is not valid JSON \\(.+\\); re-export the model`));
    editManifestRaw(dir, { format_version: 1, interface: 'logits', max_context: 128 });
    expect((await loadError(dir)).message).toBe(
      `${join(dir, 'torch-gen.json')}: missing field \`vocab_size\`; re-export the model with \`python -m torch_gen_export\` or fix the file`,
    );
    rmSync(join(dir, 'torch-gen.json'));
    const missing = await loadError(dir);
    expect(missing).toBeInstanceOf(ModelLoadError);
    expect(missing.message).toMatch(/torch-gen\.json is missing; a torch-gen model directory needs a manifest/);
  });

  test('a manifest of an unknown format version, or of another format', async () => {
    const dir = brokenCopy();
    editManifest(dir, (m) => {
      m.format_version = 2;
    });
    const newer = await loadError(dir);
    expect(newer).toBeInstanceOf(ModelLoadError);
    expect(newer.message).toBe(
      `${join(dir, 'torch-gen.json')}: format_version 2 is newer than this torch-gen understands (1); upgrade @org/torch-gen, or re-export the model with the exporter of this version`,
    );
    editManifest(dir, (m) => {
      m.format_version = '1';
    });
    expect((await loadError(dir)).message).toBe(
      `${join(dir, 'torch-gen.json')}: \`format_version\` must be an integer >= 1, found "1"; re-export the model with \`python -m torch_gen_export\` or fix the file`,
    );
    editManifest(dir, (m) => {
      m.format_version = 1;
      m.format = 'gguf';
    });
    expect((await loadError(dir)).message).toMatch(/torch-gen\.json: `format` must be "torch-gen", found "gguf"/);
  });

  test('a manifest with numbers beyond what the addon takes is a ModelLoadError naming the field (found by fuzzing)', async () => {
    const dir = brokenCopy('llama-kv');
    for (const [field, value, max] of [['num_layers', 2 ** 40, 4096], ['head_dim', 2 ** 31, 65536], ['vocab_size', 2 ** 40, 2 ** 31]] as const) {
      editManifest(dir, (m) => {
        Object.assign(m, { num_layers: 2, head_dim: 16, vocab_size: 384 }, { [field]: value });
      });
      const error = await loadError(dir);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect(error.message).toBe(
        `${join(dir, 'torch-gen.json')}: \`${field}\` is ${value}, more than torch-gen supports (${max}); re-export the model with \`python -m torch_gen_export\` or fix the file`,
      );
    }
  });

  test('a missing or malformed tokenizer.json', async () => {
    const dir = brokenCopy();
    const path = join(dir, 'tokenizer.json');
    writeFileSync(path, '{"model": 42');
    const notJson = await loadError(dir);
    expect(notJson).toBeInstanceOf(ModelLoadError);
    expect(notJson.message).toMatch(new RegExp(`^${escape(path)} is not valid JSON`));
    writeFileSync(path, '{"model": {"type": "Nope"}}');
    const notTokenizer = await loadError(dir);
    expect(notTokenizer).toBeInstanceOf(ModelLoadError);
    expect(notTokenizer.message).toMatch(new RegExp(`^${escape(path)} is not a tokenizer that @huggingface/tokenizers can use`));
    rmSync(path);
    const missing = await loadError(dir);
    expect(missing).toBeInstanceOf(ModelLoadError);
    expect(missing.message).toBe(`${path} is missing or unreadable; copy the model's tokenizer files into its directory`);
  });

  test("a tokenizer with token ids the model has no logits for is refused before the weights load", async () => {
    // The fixture tokenizer has 384 tokens; a model of 300 cannot take ids 300 to 383.
    const dir = brokenCopy('llama-kv');
    editManifest(dir, (m) => {
      m.vocab_size = 300;
    });
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toBe(
      `${join(dir, 'tokenizer.json')} has token ids up to 383 but torch-gen.json says the model takes vocab_size 300 (ids 0 to 299): ` +
        "the tokenizer is not this model's; copy in the tokenizer files the model was exported with, or re-export the model",
    );
  });

  test('a device that does not exist is a DeviceError', async () => {
    const error = await loadError(fixture('gpt2-logits'), { device: 'cuda:99' });
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as DeviceError).code).toBe('ERR_DEVICE');
    expect(error.message).toMatch(/device 'cuda:99' (was requested but CUDA is not available|does not exist: this machine has \d+ CUDA device)/);
  });

  test.skipIf(runtimeInfo().cudaAvailable)('device "cuda" without CUDA is a DeviceError that says to use the CPU', async () => {
    const error = await loadError(fixture('gpt2-logits'), { device: 'cuda' });
    expect(error).toBeInstanceOf(DeviceError);
    expect(error.message).toMatch(/device 'cuda' was requested but CUDA is not available .*; use device 'cpu'$/);
  });

  test('bad options are OptionErrors', async () => {
    const error = await loadError(fixture('gpt2-logits'), { device: 'tpu' as never });
    expect(error).toBeInstanceOf(OptionError);
    expect(error.message).toBe("device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', received \"tpu\"");
    await expect(loadModel(42 as unknown as string)).rejects.toThrow('loadModel: expected the path of a model directory, received 42');
  });

  test('the process survives every failure and still loads a good model', async () => {
    const model = await loadModel(fixture('gpt2-logits'), { device: 'cpu' });
    expect(model.info.architecture).toBe('gpt2');
    await model.dispose();
  });
});

function editManifestRaw(dir: string, json: object) {
  writeFileSync(join(dir, 'torch-gen.json'), JSON.stringify(json));
}
