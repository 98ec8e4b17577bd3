import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { GenerationError, loadModel, ModelLoadError } from '@org/torch-gen';
import { copyFixture, editManifest, fixture } from '../helpers.js';
import { loadError } from '../load-error.js';

// A model.pt that loads as TorchScript but is not the causal LM its manifest describes is refused at load by
// the probe forward (native/core/model.cpp, Model::Probe), with a ModelLoadError that names model.pt or
// torch-gen.json and what does not match, never on a user's first request.
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

/** A copy of a fixture directory with `module` (from the bad-modules fixture) as its model.pt. */
function withModule(base: string, module?: string, edit?: (manifest: Record<string, unknown>) => void): string {
  const copy = copyFixture(base);
  cleanups.push(copy.cleanup);
  if (module) copyFileSync(join(fixture('bad-modules'), module), join(copy.dir, 'model.pt'));
  if (edit) editManifest(copy.dir, edit);
  return copy.dir;
}

async function expectModelLoadError(dir: string, message: string | RegExp, options = {}): Promise<void> {
  const error = await loadError(dir, options);
  expect(error).toBeInstanceOf(ModelLoadError);
  expect((error as ModelLoadError).code).toBe('ERR_MODEL_LOAD');
  if (typeof message === 'string') expect(error.message).toBe(`${dir}: loading the model failed: ${message}`);
  else expect(error.message).toMatch(message);
}

// The geometry the kv-cache bad modules are written for (python/fixtures/bad_modules.py).
const KV_GEOMETRY = { num_layers: 2, num_kv_heads: 2, head_dim: 8 };

describe('a `logits` module that is not a causal LM', () => {
  test.each([
    ['returns-tokens.pt', 'model.pt returned logits of shape [1, 1] for tokens of shape [1, 1]; the `logits` interface returns [B, T, vocab_size]'],
    ['returns-integer-logits.pt', 'model.pt returned logits of dtype Long; a causal LM returns floating-point logits'],
    ['returns-wrong-vocab.pt', 'model.pt returned 394 logits per token but torch-gen.json says vocab_size 384; fix the manifest or re-export the model'],
    ['returns-dict.pt', 'model.pt: forward did not return a tensor of logits (it returned GenericDict)'],
    [
      'takes-two-inputs.pt',
      'model.pt\'s forward takes (tokens: Tensor, mask: Tensor) but torch-gen.json says "interface": "logits", which calls forward(tokens); ' +
        'set the interface the module implements, or re-export the model',
    ],
    [
      'fails-inside.pt',
      "model.pt: forward(tokens) failed in the load-time check (RuntimeError: shape '[-1, 7, 384]' is invalid for input of size 1); " +
        'the `logits` interface expects forward(tokens[B, T] int64) -> logits[B, T, V]',
    ],
  ])('%s', async (module, message) => {
    await expectModelLoadError(withModule('gpt2-logits', module), message);
  });
});

describe('a `kv-cache` module that is not a causal LM', () => {
  test.each([
    ['kv-returns-all-positions.pt', 'model.pt returned logits of shape [1, 2, 384] for 1 rows; the `kv-cache` interface returns [B, vocab_size]'],
    ['kv-returns-integer-logits.pt', 'model.pt returned logits of dtype Long; a causal LM returns floating-point logits'],
    ['kv-returns-wrong-vocab.pt', 'model.pt returned 394 logits per token but torch-gen.json says vocab_size 384; fix the manifest or re-export the model'],
    [
      'kv-ignores-cache.pt',
      "model.pt wrote nothing into the KV cache in the load-time check: a `kv-cache` module writes each layer's keys and values in place; " +
        'set "interface": "logits" in torch-gen.json for a module without a cache',
    ],
  ])('%s', async (module, message) => {
    await expectModelLoadError(withModule('llama-kv', module, (m) => Object.assign(m, KV_GEOMETRY)), message);
  });

  test('a module of the right geometry loads (the checks above are not false alarms)', async () => {
    const model = await loadModel(withModule('llama-kv', 'kv-writes-own-geometry.pt', (m) => Object.assign(m, KV_GEOMETRY)), { device: 'cpu' });
    await model.dispose();
  });
});

describe('a manifest whose interface is not the module\'s', () => {
  test('a `logits` module under "interface": "kv-cache"', async () => {
    const dir = withModule('gpt2-logits', undefined, (m) => Object.assign(m, { interface: 'kv-cache', num_layers: 2, num_kv_heads: 4, head_dim: 16 }));
    await expectModelLoadError(
      dir,
      'model.pt\'s forward takes (tokens: Tensor) but torch-gen.json says "interface": "kv-cache", which calls ' +
        'forward(tokens, positions, k_cache, v_cache, kv_len); set the interface the module implements, or re-export the model',
    );
  });

  test('a `kv-cache` module under "interface": "logits"', async () => {
    const dir = withModule('llama-kv', undefined, (m) => {
      m.interface = 'logits';
    });
    await expectModelLoadError(
      dir,
      'model.pt\'s forward takes (tokens: Tensor, positions: Tensor, k_cache: Tensor, v_cache: Tensor, kv_len: int) ' +
        'but torch-gen.json says "interface": "logits", which calls forward(tokens); set the interface the module implements, or re-export the model',
    );
  });
});

describe('a manifest that lies about the module', () => {
  test('vocab_size (logits interface)', async () => {
    const dir = withModule('gpt2-logits', undefined, (m) => {
      m.vocab_size = 500;
    });
    await expectModelLoadError(dir, 'model.pt returned 384 logits per token but torch-gen.json says vocab_size 500; fix the manifest or re-export the model');
  });

  test('vocab_size (kv-cache interface)', async () => {
    const dir = withModule('llama-kv', undefined, (m) => {
      m.vocab_size = 500;
    });
    await expectModelLoadError(dir, 'model.pt returned 384 logits per token but torch-gen.json says vocab_size 500; fix the manifest or re-export the model');
  });

  // The exported llama-kv module has 2 layers, 2 kv heads of 16: a cache that is too small, or of another
  // head count or head size, fails inside its forward; one layer too many would go unnoticed by the module.
  test.each([
    [{ num_layers: 1 }, 'num_layers 1, num_kv_heads 2, head_dim 16', /select\(\): index 1 out of range/],
    [{ num_kv_heads: 4 }, 'num_layers 2, num_kv_heads 4, head_dim 16', /shape mismatch: value tensor of shape \[1, 2, 2, 16\] cannot be broadcast to indexing result of shape \[1, 2, 4, 16\]/],
    [{ num_kv_heads: 1 }, 'num_layers 2, num_kv_heads 1, head_dim 16', /shape mismatch/],
    [{ head_dim: 32 }, 'num_layers 2, num_kv_heads 2, head_dim 32', /shape mismatch: .* \[1, 2, 2, 32\]/],
    [{ head_dim: 8 }, 'num_layers 2, num_kv_heads 2, head_dim 8', /shape mismatch/],
  ])('cache geometry %o: the probe forward fails and the error names the fields', async (lie, geometry, reason) => {
    const dir = withModule('llama-kv', undefined, (m) => Object.assign(m, lie));
    const error = await loadError(dir);
    expect(error).toBeInstanceOf(ModelLoadError);
    const prefix = `${dir}: loading the model failed: model.pt does not fit the KV cache torch-gen.json describes (${geometry}): its forward failed on a cache of that shape (RuntimeError: `;
    expect(error.message.startsWith(prefix)).toBe(true);
    expect(error.message).toMatch(reason);
    expect(error.message.endsWith('); fix those fields in torch-gen.json or re-export the model')).toBe(true);
    // One line: the interpreter's traceback is left out.
    expect(error.message).not.toContain('\n');
  });

  test('num_layers larger than the module: the layers it never writes are found', async () => {
    const dir = withModule('llama-kv', undefined, (m) => {
      m.num_layers = 3;
    });
    await expectModelLoadError(dir, 'torch-gen.json says num_layers 3 but model.pt wrote keys and values for 2 layer(s) in the load-time check; fix torch-gen.json or re-export the model');
  });

  test('num_kv_heads or head_dim larger than a module that writes only its own part of the cache', async () => {
    const heads = withModule('llama-kv', 'kv-writes-own-geometry.pt', (m) => Object.assign(m, KV_GEOMETRY, { num_kv_heads: 3 }));
    await expectModelLoadError(heads, 'torch-gen.json says num_kv_heads 3 but model.pt wrote keys and values for 2 kv head(s) in the load-time check; fix torch-gen.json or re-export the model');
    const dims = withModule('llama-kv', 'kv-writes-own-geometry.pt', (m) => Object.assign(m, KV_GEOMETRY, { head_dim: 12 }));
    await expectModelLoadError(dims, 'torch-gen.json says head_dim 12 but model.pt wrote 8 element(s) of each key and value in the load-time check; fix torch-gen.json or re-export the model');
  });

  test('max_context beyond the module\'s position table (GPT-2\'s learned positions) is found at the last position', async () => {
    const dir = withModule('gpt2-kv', undefined, (m) => {
      m.max_context = 4096;
    });
    await expectModelLoadError(
      dir,
      "model.pt fails at position 1023, the last of the 1024-token context it was loaded with (RuntimeError: index out of range in self); torch-gen.json's max_context, or the maxContext option, is more than the module supports: lower it",
      { maxContext: 1024, maxBatch: 1 },
    );
    // Within the module's 256 positions the same directory loads.
    const model = await loadModel(dir, { device: 'cpu', maxContext: 256, maxBatch: 1 });
    await model.dispose();
  });

  // A `logits` probe at the last position would run the whole context through the module at load (seconds,
  // and [1, T, V] logits of memory); the lie surfaces on the first request that reaches past the module's
  // positions instead, as that request's error, and the model keeps serving.
  test("max_context beyond a `logits` module's position table fails only the request that reaches past it", async () => {
    const dir = withModule('gpt2-logits', undefined, (m) => {
      m.max_context = 4096;
    });
    const model = await loadModel(dir, { device: 'cpu', maxContext: 1024 });
    try {
      const error = await model.complete(new Array(200).fill(5), { maxTokens: 2 }).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(GenerationError);
      expect((error as GenerationError).code).toBe('ERR_GENERATION');
      expect((error as Error).message).toMatch(/index out of range in self/);
      expect((await model.complete('Once upon a time', { maxTokens: 3 })).tokenIds.length).toBe(3);
    } finally {
      await model.dispose();
    }
  });
});
