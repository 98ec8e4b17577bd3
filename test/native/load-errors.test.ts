import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { DeviceError, loadModel, ModelLoadError, OptionError } from '@org/torch-gen';
import { copyFixture, editManifest, fixture } from '../helpers.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function brokenCopy(): string {
  const copy = copyFixture('gpt2-logits');
  cleanups.push(copy.cleanup);
  return copy.dir;
}

async function loadError(dir: string, options = {}): Promise<Error> {
  try {
    const model = await loadModel(dir, { device: 'cpu', ...options });
    await model.dispose();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected loadModel to fail');
}

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
    expect((await loadError(dir)).message).toMatch(/is missing or empty/);
  });

  test('a model.pt of random bytes', async () => {
    const dir = brokenCopy();
    writeFileSync(join(dir, 'model.pt'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(new RegExp(`^${dir}: loading the model failed: model.pt could not be loaded as TorchScript \\(.+\\); export it with torch.jit.save or the torch-gen exporter$`, 's'));
  });

  test('a truncated model.pt', async () => {
    const dir = brokenCopy();
    const full = join(fixture('gpt2-logits'), 'model.pt');
    const bytes = (await import('node:fs')).readFileSync(full);
    writeFileSync(join(dir, 'model.pt'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(await loadError(dir)).toBeInstanceOf(ModelLoadError);
  });

  test('a missing, non-JSON or incomplete manifest', async () => {
    const dir = brokenCopy();
    writeFileSync(join(dir, 'torch-gen.json'), 'not json');
    expect((await loadError(dir)).message).toMatch(/torch-gen\.json is not valid JSON/);
    editManifestRaw(dir, { format_version: 1, interface: 'logits', max_context: 128 });
    expect((await loadError(dir)).message).toBe(
      `${join(dir, 'torch-gen.json')}: missing field \`vocab_size\`; re-export the model with \`python -m torch_gen_export\` or fix the file`,
    );
    rmSync(join(dir, 'torch-gen.json'));
    expect((await loadError(dir)).message).toMatch(/torch-gen\.json is missing; a torch-gen model directory needs a manifest/);
  });

  test('a manifest whose vocab_size does not match the module, found at load time', async () => {
    const dir = brokenCopy();
    editManifest(dir, (m) => {
      m.vocab_size = 500;
    });
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toBe(
      `${dir}: loading the model failed: model.pt returned 384 logits per token but torch-gen.json says vocab_size 500; fix the manifest or re-export the model`,
    );
  });

  test('a missing or malformed tokenizer.json', async () => {
    const dir = brokenCopy();
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": 42');
    expect((await loadError(dir)).message).toMatch(/tokenizer\.json is not valid JSON/);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "Nope"}}');
    expect((await loadError(dir)).message).toMatch(/tokenizer\.json is not a tokenizer that @huggingface\/tokenizers can use/);
    rmSync(join(dir, 'tokenizer.json'));
    expect((await loadError(dir)).message).toMatch(/tokenizer\.json is missing or unreadable/);
  });

  test.each([
    ['returns-tokens.pt', /model\.pt returned logits of shape \[1, 1\] for tokens of shape \[1, 1\]; the `logits` interface returns \[B, T, vocab_size\]/],
    ['returns-integer-logits.pt', /model\.pt returned logits of dtype Long; a causal LM returns floating-point logits/],
    ['returns-dict.pt', /model\.pt: forward did not return a tensor of logits \(it returned GenericDict\)/],
    ['takes-two-inputs.pt', /model\.pt: forward\(tokens\[B, T\] int64\) failed; the `logits` interface expects forward\(tokens\) -> logits\[B, T, V\]/],
  ])('a TorchScript module that is not a causal LM: %s', async (file, message) => {
    const dir = brokenCopy();
    copyFileSync(join(fixture('bad-modules'), file), join(dir, 'model.pt'));
    editManifest(dir, (m) => {
      m.vocab_size = 16;
      m.eos_token_ids = [0];
      m.bos_token_id = 0;
    });
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(message);
  });

  test('a device that does not exist is a DeviceError', async () => {
    const error = await loadError(fixture('gpt2-logits'), { device: 'cuda:99' });
    expect(error).toBeInstanceOf(DeviceError);
    expect(error.message).toMatch(/device 'cuda:99' (was requested but CUDA is not available|does not exist: this machine has \d+ CUDA device)/);
  });

  test('bad options are OptionErrors', async () => {
    expect(await loadError(fixture('gpt2-logits'), { device: 'tpu' })).toBeInstanceOf(OptionError);
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
