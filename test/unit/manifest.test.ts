import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ModelLoadError } from '../../lib/errors.js';
import { parseManifest, readManifest } from '../../lib/manifest.js';

const valid = {
  format: 'torch-gen',
  format_version: 1,
  interface: 'kv-cache',
  architecture: 'llama',
  vocab_size: 100,
  max_context: 64,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  head_dim: 16,
  dtype: 'float16',
  bos_token_id: 1,
  eos_token_ids: [2, 3],
  pad_token_id: null,
};

const dir = mkdtempSync(join(tmpdir(), 'torch-gen-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('manifest', () => {
  test('parses a valid kv-cache manifest into camelCase fields', () => {
    const manifest = parseManifest(valid);
    expect(manifest).toMatchObject({
      interface: 'kv-cache',
      vocabSize: 100,
      maxContext: 64,
      numLayers: 2,
      numKvHeads: 2,
      headDim: 16,
      dtype: 'float16',
      bosTokenId: 1,
      eosTokenIds: [2, 3],
    });
  });

  test('quantization is null for float weights and parsed for an int8 export', () => {
    expect(parseManifest(valid).quantization).toBeNull();
    expect(parseManifest({ ...valid, quantization: { method: 'int8-dynamic', activation_bits: 8 } }).quantization).toEqual({
      method: 'int8-dynamic',
      activationBits: 8,
    });
  });

  test('family, features and attention windows: defaults for an older manifest, parsed for a newer one', () => {
    expect(parseManifest(valid)).toMatchObject({ family: 'llama', features: [], attentionWindows: null });
    const gemma = parseManifest({ ...valid, architecture: 'gemma2', family: 'Gemma 2', features: ['GeGLU (gelu tanh)'], attention_windows: [4096, null] });
    expect(gemma).toMatchObject({ family: 'Gemma 2', features: ['GeGLU (gelu tanh)'], attentionWindows: [4096, null] });
  });

  test('a logits manifest needs no cache geometry', () => {
    const { num_layers, num_heads, num_kv_heads, head_dim, ...rest } = valid;
    expect(parseManifest({ ...rest, interface: 'logits' }).numLayers).toBe(0);
  });

  test.each([
    [{ ...valid, vocab_size: undefined }, 'torch-gen.json: missing field `vocab_size`'],
    [{ ...valid, vocab_size: '100' }, 'torch-gen.json: `vocab_size` must be an integer >= 1, found "100"'],
    [{ ...valid, max_context: 1 }, '`max_context` must be an integer >= 2, found 1'],
    [{ ...valid, interface: 'seq2seq' }, '`interface` must be "logits" or "kv-cache", found "seq2seq"'],
    [{ ...valid, num_kv_heads: undefined }, 'missing field `num_kv_heads`'],
    [{ ...valid, dtype: 'int4' }, '`dtype` must be "float32", "float16" or "bfloat16", found "int4"'],
    [{ ...valid, eos_token_ids: [2, 100] }, '`eos_token_ids[1]` must be a token id in [0, 100), found 100'],
    [{ ...valid, eos_token_ids: 2 }, '`eos_token_ids` must be an array of token ids, found 2'],
    [{ ...valid, bos_token_id: -1 }, '`bos_token_id` must be null or a token id in [0, 100), found -1'],
    [{ ...valid, format: 'gguf' }, '`format` must be "torch-gen", found "gguf"'],
    [[1, 2], 'torch-gen.json: expected a JSON object'],
    [{ ...valid, quantization: { method: 'int4' } }, '`quantization.method` must be "int8-dynamic", found "int4"'],
    [{ ...valid, family: 3 }, '`family` must be a string, found 3'],
    [{ ...valid, features: 'fast' }, '`features` must be an array of strings, found "fast"'],
    [{ ...valid, attention_windows: [8] }, '`attention_windows` must list a window (an integer >= 1) or null for each of the 2 layers, found [8]'],
    [{ ...valid, attention_windows: [0, null] }, '`attention_windows` must list a window (an integer >= 1) or null for each of the 2 layers, found [0,null]'],
    [{ ...valid, quantization: { method: 'int8-dynamic', activation_bits: 4 } }, '`quantization.activation_bits` must be 7 or 8, found 4'],
  ])('rejects a bad manifest with a message naming the field (%#)', (json, message) => {
    expect(() => parseManifest(json)).toThrow(ModelLoadError);
    expect(() => parseManifest(json)).toThrow(message);
  });

  test('every manifest error says how to fix it', () => {
    expect(() => parseManifest({})).toThrow(/re-export the model with `python -m torch_gen_export` or fix the file$/);
  });

  test('a newer format version asks for a newer torch-gen', () => {
    expect(() => parseManifest({ ...valid, format_version: 2 })).toThrow(
      'torch-gen.json: format_version 2 is newer than this torch-gen understands (1); upgrade @org/torch-gen',
    );
  });

  test('readManifest reports a missing file and a file that is not JSON', async () => {
    await expect(readManifest(dir)).rejects.toThrow(`${join(dir, 'torch-gen.json')} is missing; a torch-gen model directory needs a manifest`);
    writeFileSync(join(dir, 'torch-gen.json'), '{ "format_version": 1,');
    await expect(readManifest(dir)).rejects.toThrow(`${join(dir, 'torch-gen.json')} is not valid JSON`);
  });
});
