// What bench/peers needs before it measures: the token ids every engine is fed, the GGUF files, the
// node-llama-cpp install, and for each engine whether it can run here (and if not, why and what to do).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, venvPython } from '../../scripts/libtorch.mjs';
import { lastJsonLine, run } from './child.mjs';
import { DEFAULT_MODEL } from './engines.mjs';

export const python = process.env.TORCH_GEN_PYTHON || venvPython;
const here = join(projectRoot, 'bench', 'peers');
const llamaDir = join(here, 'llama');
// Written once by write_ggufs.py; models/ is not committed.
const ggufDir = join(projectRoot, 'models', 'smollm2-135m-instruct-gguf');
// 16 concurrent prompts of the short length, from windows this far apart in the text, so that no two
// requests share a prefix (an engine that reuses prefixes would otherwise do less work).
const CONCURRENT_STRIDE = 24;

/**
 * The prompts as token ids, from the default model's tokenizer once (no special tokens: no BOS), cut from
 * one fixed text (prompt.txt) at the requested lengths.
 */
export async function tokenPrompts(lengths, concurrency) {
  const modelDir = join(projectRoot, DEFAULT_MODEL);
  if (!existsSync(join(modelDir, 'tokenizer.json'))) {
    throw new Error(`${DEFAULT_MODEL}/tokenizer.json not found: run \`npm run model:default\` first`);
  }
  const { Tokenizer } = await import('@org/torch-gen');
  const tokenizer = await Tokenizer.fromDirectory(modelDir);
  const ids = tokenizer.encode(readFileSync(join(here, 'prompt.txt'), 'utf8'), { addSpecialTokens: false });
  const longest = Math.max(...lengths, concurrency > 0 ? (concurrency - 1) * CONCURRENT_STRIDE + lengths[0] : 0);
  if (ids.length < longest) throw new Error(`bench/peers/prompt.txt has ${ids.length} tokens; ${longest} are needed`);
  return {
    decode: (tokenIds) => tokenizer.decode(tokenIds),
    single: lengths.map((length) => ({ name: String(length), ids: ids.slice(0, length) })),
    concurrent: Array.from({ length: concurrency }, (_, i) => ({
      name: `c${i}`,
      ids: ids.slice(i * CONCURRENT_STRIDE, i * CONCURRENT_STRIDE + lengths[0]),
    })),
  };
}

/** node-llama-cpp in bench/peers/llama/ (its own package.json and lock); installs it when missing. */
export async function ensureLlama() {
  if (existsSync(join(llamaDir, 'node_modules', 'node-llama-cpp', 'package.json'))) return null;
  console.error('bench/peers: installing node-llama-cpp into bench/peers/llama/ (once)');
  // Its postinstall would look for a GPU build or compile llama.cpp; the prebuilt CPU binaries are enough.
  const outcome = await run('npm ci', 'npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: llamaDir,
    env: { NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
  });
  return outcome.ok ? null : `\`npm ci\` in bench/peers/llama failed (${outcome.failure}): ${outcome.stderrTail.slice(-2).join(' ')}`;
}

/** The GGUF index of write_ggufs.py (paths and weight bytes per token), or the reason it failed. */
export async function ensureGgufs() {
  const outcome = await run('gguf', python, [join(here, 'write_ggufs.py'), ggufDir]);
  if (!outcome.ok) return { reason: `bench/peers/write_ggufs.py failed (${outcome.failure}): ${outcome.stderrTail.slice(-1)}` };
  return { index: lastJsonLine(outcome.stdout) };
}

/** Why the transformers driver cannot run here, or null. */
export async function transformersMissing() {
  const outcome = await run('python', python, ['-c', 'import torch, transformers, gguf']);
  return outcome.ok ? null : `${python} cannot import torch, transformers and gguf: run \`npm run setup:python\``;
}

const exportRuns = new Map();

/**
 * Exports `engine`'s model directory with scripts/model-default.mjs (once per set of arguments; the
 * script skips an export that is up to date), and says why the torch-gen driver cannot run it, or null.
 */
export async function torchGenMissing(engine) {
  if (!existsSync(join(projectRoot, 'dist', 'index.js'))) return 'dist/ is not built: run `npm run build`';
  const key = engine.make.join(' ');
  if (!exportRuns.has(key)) {
    exportRuns.set(key, await run('model-default', process.execPath, [join(projectRoot, 'scripts', 'model-default.mjs'), ...engine.make]));
  }
  const outcome = exportRuns.get(key);
  const command = `npm run model:default${key ? ` -- ${key}` : ''}`;
  if (!outcome.ok) return `\`${command}\` failed (${outcome.failure}): ${outcome.stderrTail.slice(-1)}`;
  if (!existsSync(join(projectRoot, engine.model, 'torch-gen.json'))) return `${engine.model} not found after \`${command}\``;
  return null;
}
