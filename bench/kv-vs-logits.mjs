// CPU ms per generated token at growing context lengths, `kv-cache` interface vs `logits` interface,
// on the same weights (SmolLM2-135M-Instruct exported both ways).
//
//   npm run bench [-- --contexts 64,256,1024 --tokens 16]
//
// The kv-cache module feeds one token per step into a runtime-owned cache, so its cost per token should
// stay nearly flat; the logits module recomputes the whole sequence each step, so its cost grows with the
// context. Writes bench/results/kv-vs-logits.json and prints a markdown table for BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';

const { values } = parseArgs({
  options: {
    kv: { type: 'string', default: 'models/smollm2-135m-instruct' },
    logits: { type: 'string', default: 'models/smollm2-135m-instruct-logits' },
    contexts: { type: 'string', default: '64,256,1024' },
    tokens: { type: 'string', default: '16' },
  },
});
const contexts = values.contexts.split(',').map(Number);
const newTokens = Number(values.tokens);
for (const dir of [values.kv, values.logits]) {
  if (!existsSync(join(dir, 'torch-gen.json'))) {
    console.error(`bench: ${dir} is missing; run \`npm run model:default\` (it exports both interfaces)`);
    process.exit(1);
  }
}

/** Generates `newTokens` after a prompt that brings the sequence to `context` tokens; returns ms/token. */
async function msPerToken(model, context) {
  const promptLength = context - newTokens;
  const prompt = Array.from({ length: promptLength }, (_, i) => 100 + ((i * 37) % 5000));
  const stamps = [];
  for await (const chunk of model.generate(prompt, { maxTokens: newTokens })) {
    for (let i = 0; i < chunk.tokenIds.length; i++) stamps.push(performance.now());
  }
  // The first token includes the prefill; the steps after it are the per-token cost.
  return (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1);
}

const rows = [];
for (const [name, dir] of [['kv-cache', values.kv], ['logits', values.logits]]) {
  const model = await loadModel(dir, { device: 'cpu', maxBatch: 1, maxContext: Math.max(...contexts) });
  await msPerToken(model, Math.min(...contexts)); // warm-up: first-run allocation and kernel selection
  for (const context of contexts) {
    const ms = await msPerToken(model, context);
    rows.push({ interface: name, context, msPerToken: Number(ms.toFixed(2)), tokensPerSecond: Number((1000 / ms).toFixed(1)) });
    console.error(`${name.padEnd(8)} context ${String(context).padStart(5)}: ${ms.toFixed(2)} ms/token`);
  }
  await model.dispose();
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const result = {
  benchmark: 'kv-vs-logits',
  date: new Date().toISOString(),
  commit,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  runtime: runtimeInfo(),
  model: values.kv,
  device: 'cpu',
  dtype: 'float32',
  batch: 1,
  newTokens,
  rows,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/kv-vs-logits.json', `${JSON.stringify(result, null, 2)}\n`);

const byContext = (name, context) => rows.find((r) => r.interface === name && r.context === context);
console.log(`| context | kv-cache ms/token | logits ms/token | logits / kv-cache |`);
console.log(`|---:|---:|---:|---:|`);
for (const context of contexts) {
  const kv = byContext('kv-cache', context).msPerToken;
  const logits = byContext('logits', context).msPerToken;
  console.log(`| ${context} | ${kv} | ${logits} | ${(logits / kv).toFixed(1)}x |`);
}
