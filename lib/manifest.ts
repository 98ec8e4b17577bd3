/** Reads and validates a model directory's manifest, torch-gen.json (docs/model-format.md). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAotiPackage, type AotiPackage } from './aoti.js';
import { ModelLoadError } from './errors.js';

export const MANIFEST_FILE = 'torch-gen.json';
export const SUPPORTED_FORMAT_VERSION = 1;

export type ModelInterface = 'logits' | 'kv-cache';
export type WeightDtype = 'float32' | 'float16' | 'bfloat16';

export interface Manifest {
  formatVersion: number;
  interface: ModelInterface;
  architecture: string;
  /** The family as people name it ('Gemma 3' for architecture gemma3_text); the architecture when unnamed. */
  family: string;
  /** What distinguishes the model, in words ('q/k RMSNorm', 'sliding-window attention (4096 tokens) on 13 of 26 layers'). */
  features: string[];
  /**
   * Each layer's sliding window (null: full attention), or null when no layer has one. Informative: the
   * module applies the windows in its masks, so the cache and context rules are those of any model.
   */
  attentionWindows: (number | null)[] | null;
  vocabSize: number;
  maxContext: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  dtype: WeightDtype;
  bosTokenId: number | null;
  eosTokenIds: number[];
  exportedWith: Record<string, string>;
  source: string;
  /** Quantized linear layers (`--quantize int8`): CPU only, float32 activations. Null for float weights. */
  quantization: Quantization | null;
  /** An AOTInductor package (`--format aoti`) instead of model.pt; null for TorchScript. */
  aoti: AotiPackage | null;
}

export interface Quantization {
  /** 'int8-dynamic': fbgemm int8 weights per channel, activations quantized per token at run time. */
  method: 'int8-dynamic';
  /** 8 is exact only on CPUs with VNNI; 7 avoids saturation on others. */
  activationBits: 7 | 8;
}

// The largest values the addon takes (native/addon/convert.cpp checks them again): token ids are int32, and
// the cache geometry has bounds of its own. A manifest beyond them is refused here, naming the file and field.
const LIMITS: Record<string, number> = {
  vocab_size: 2 ** 31,
  max_context: 2 ** 31,
  num_layers: 4096,
  num_heads: 4096,
  num_kv_heads: 4096,
  head_dim: 65536,
};

const REEXPORT = 're-export the model with `python -m torch_gen_export` or fix the file';

/** Reads `dir/torch-gen.json`; throws ModelLoadError naming the file and the field. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${String(error)})`;
    throw new ModelLoadError(`${path} ${reason}; a torch-gen model directory needs a manifest: ${REEXPORT}`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON (${(error as Error).message}); ${REEXPORT}`, { cause: error });
  }
  return parseManifest(json, path);
}

/** Validates a parsed manifest. Exported for tests and tools that build manifests in memory. */
export function parseManifest(json: unknown, path = MANIFEST_FILE): Manifest {
  const fail = (message: string): never => {
    throw new ModelLoadError(`${path}: ${message}; ${REEXPORT}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object');
  const raw = json as Record<string, unknown>;

  const field = (name: string): unknown => raw[name];
  const integer = (name: string, min: number, optional = false): number => {
    const value = field(name);
    if (value === undefined && optional) return 0;
    if (value === undefined) fail(`missing field \`${name}\``);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      fail(`\`${name}\` must be an integer >= ${min}, found ${JSON.stringify(value)}`);
    }
    const max = LIMITS[name];
    if (max !== undefined && (value as number) > max) fail(`\`${name}\` is ${String(value)}, more than torch-gen supports (${max})`);
    return value as number;
  };

  if (raw.format !== undefined && raw.format !== 'torch-gen') fail(`\`format\` must be "torch-gen", found ${JSON.stringify(raw.format)}`);
  const formatVersion = integer('format_version', 1);
  if (formatVersion > SUPPORTED_FORMAT_VERSION) {
    throw new ModelLoadError(
      `${path}: format_version ${formatVersion} is newer than this torch-gen understands (${SUPPORTED_FORMAT_VERSION}); ` +
        'upgrade @org/torch-gen, or re-export the model with the exporter of this version',
    );
  }
  const iface = field('interface');
  if (iface !== 'logits' && iface !== 'kv-cache') {
    fail(`\`interface\` must be "logits" or "kv-cache", found ${JSON.stringify(iface)}`);
  }
  const isKv = iface === 'kv-cache';
  const vocabSize = integer('vocab_size', 1);
  const maxContext = integer('max_context', 2);
  const numLayers = integer('num_layers', 1, !isKv);
  const numKvHeads = integer('num_kv_heads', 1, !isKv);
  const headDim = integer('head_dim', 1, !isKv);
  const numHeads = integer('num_heads', 1, true) || numKvHeads;

  const dtype = field('dtype') ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') {
    fail(`\`dtype\` must be "float32", "float16" or "bfloat16", found ${JSON.stringify(dtype)}`);
  }
  const tokenId = (name: string): number | null => {
    const value = field(name);
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      fail(`\`${name}\` must be null or a token id in [0, ${vocabSize}), found ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const eosRaw = field('eos_token_ids') ?? [];
  if (!Array.isArray(eosRaw)) fail(`\`eos_token_ids\` must be an array of token ids, found ${JSON.stringify(eosRaw)}`);
  const eosTokenIds = (eosRaw as unknown[]).map((value, index) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      fail(`\`eos_token_ids[${index}]\` must be a token id in [0, ${vocabSize}), found ${JSON.stringify(value)}`);
    }
    return value as number;
  });
  // Part of the format (docs/model-format.md), so checked; the runtime itself never pads.
  tokenId('pad_token_id');
  const exportedWith = field('exported_with');
  const source = field('source');
  const quantization = parseQuantization(field('quantization'), fail);
  const aoti = parseAotiPackage(field('aoti'), fail);
  if (aoti !== null && !isKv) fail('an AOTInductor package (`aoti`) implements the "kv-cache" interface only');
  const architecture = typeof field('architecture') === 'string' ? (field('architecture') as string) : 'unknown';
  const family = field('family') ?? architecture;
  if (typeof family !== 'string') fail(`\`family\` must be a string, found ${JSON.stringify(family)}`);
  const features = field('features') ?? [];
  if (!Array.isArray(features) || features.some((feature) => typeof feature !== 'string')) {
    fail(`\`features\` must be an array of strings, found ${JSON.stringify(features)}`);
  }
  return {
    formatVersion,
    interface: iface as ModelInterface,
    architecture,
    family: family as string,
    features: features as string[],
    attentionWindows: parseWindows(field('attention_windows'), numLayers, fail),
    vocabSize,
    maxContext,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    dtype: dtype as WeightDtype,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenIds,
    exportedWith: typeof exportedWith === 'object' && exportedWith !== null ? (exportedWith as Record<string, string>) : {},
    source: typeof source === 'string' ? source : '',
    quantization,
    aoti,
  };
}

function parseQuantization(value: unknown, fail: (message: string) => never): Quantization | null {
  if (value === undefined || value === null) return null;
  const entry = value as { method?: unknown; activation_bits?: unknown };
  if (typeof value !== 'object' || entry.method !== 'int8-dynamic') {
    fail(`\`quantization.method\` must be "int8-dynamic", found ${JSON.stringify(entry?.method ?? value)}`);
  }
  if (entry.activation_bits !== 7 && entry.activation_bits !== 8) {
    fail(`\`quantization.activation_bits\` must be 7 or 8, found ${JSON.stringify(entry.activation_bits)}`);
  }
  return { method: 'int8-dynamic', activationBits: entry.activation_bits };
}

function parseWindows(value: unknown, numLayers: number, fail: (message: string) => never): (number | null)[] | null {
  if (value === undefined || value === null) return null;
  const valid = (window: unknown): boolean => window === null || (typeof window === 'number' && Number.isSafeInteger(window) && window >= 1);
  if (!Array.isArray(value) || value.length !== numLayers || !value.every(valid)) {
    fail(`\`attention_windows\` must list a window (an integer >= 1) or null for each of the ${numLayers} layers, found ${JSON.stringify(value)}`);
  }
  return value as (number | null)[];
}
