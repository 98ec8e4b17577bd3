// bench/peers: torch-gen beside transformers and node-llama-cpp on the CPU, in one run (issue 14).
//
//   npm run bench:peers [-- --runs 6 --tokens 128 --threads 2 --prompts 9,519 --concurrency 16
//                           --engines torch-gen-fp32,llama-f32,... --warmup 1 --out FILE]
//
// Each engine runs in a child process of its own (engines.mjs lists them), fed the same token ids, greedy,
// batch 1, the same thread count; per prompt it reports decode tokens/s (first to last generated token)
// and time to first token (min/median/max over --runs), and its peak RSS. Engines marked `concurrent`
// also run --concurrency requests at once (aggregate tokens/s). The memory read bandwidth, probed before
// and after the engines, gives each engine's bound (weight bytes per token / bandwidth). An engine that
// cannot run here is reported as not available, with the reason. Writes bench/results/peers-DATE.json and
// the markdown table ready for BENCHMARKS.md beside it (peers-DATE.md), and prints the table on stdout
// (all else goes to stderr). Smoke run: --runs 1 --tokens 16 --engines a,b.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../../scripts/libtorch.mjs';
import { lastJsonLine, run, runDriver } from './child.mjs';
import { DEFAULT_MODEL, ENGINES, FLOAT32_ROWS } from './engines.mjs';
import { hostIsAmdZen4 } from '../../dist/cpu.js';
import { onednnIsaCapForFloat32 } from '../../dist/options.js';
import { machine } from './machine.mjs';
import { ensureGgufs, ensureLlama, python, tokenPrompts, torchGenMissing, transformersMissing } from './prepare.mjs';
import { markdown, summarize } from './report.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '1' },
    tokens: { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    prompts: { type: 'string', default: '9,519' },
    concurrency: { type: 'string', default: '16' },
    engines: { type: 'string', default: ENGINES.map((e) => e.id).join(',') },
    'max-context': { type: 'string', default: '1024' },
    'child-timeout': { type: 'string', default: '1800' },
    out: { type: 'string' },
  },
});

function count(name, min) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench/peers: --${name}: expected an integer >= ${min}, received ${values[name]}`);
    process.exit(2);
  }
  return n;
}

const settings = {
  runs: count('runs', 1),
  warmup: count('warmup', 0),
  newTokens: count('tokens', 2),
  threads: count('threads', 1),
  concurrency: count('concurrency', 0),
  maxContext: count('max-context', 16),
  promptLengths: values.prompts.split(',').map(Number),
  command: `npm run bench:peers${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
};
if (settings.promptLengths.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`bench/peers: --prompts: expected token counts like 9,519, received ${values.prompts}`);
  process.exit(2);
}
if (Math.max(...settings.promptLengths) + settings.newTokens > settings.maxContext) {
  console.error(`bench/peers: the longest prompt plus --tokens exceeds --max-context ${settings.maxContext}`);
  process.exit(2);
}
const wanted = values.engines.split(',').filter(Boolean);
const unknown = wanted.filter((id) => !ENGINES.some((e) => e.id === id));
if (unknown.length > 0) {
  console.error(`bench/peers: unknown engine ${unknown.join(', ')}; known: ${ENGINES.map((e) => e.id).join(', ')}`);
  process.exit(2);
}
const engines = ENGINES.filter((e) => wanted.includes(e.id));
const childTimeoutMs = count('child-timeout', 1) * 1000;
// Every child gets the same cap on OpenMP's pool, beside each engine's own thread setting.
const childEnv = { OMP_NUM_THREADS: String(settings.threads), HF_HUB_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' };
const here = join(projectRoot, 'bench', 'peers');

const info = machine();
const prompts = await tokenPrompts(settings.promptLengths, settings.concurrency);

async function probeBandwidth() {
  const outcome = await run('bandwidth', python, [join(here, 'bandwidth.py'), String(settings.threads)], { env: childEnv });
  return outcome.ok ? lastJsonLine(outcome.stdout) : { failed: outcome.failure };
}

// The oneDNN cap torch-gen's default float32 model runs under on this CPU (AVX2 on AMD Zen 4, else none).
const float32Cap = onednnIsaCapForFloat32({ zen4: hostIsAmdZen4() });

/**
 * The library's one-row products alone on the default model's weights (bench/peers/linear_ceiling.py): with
 * every oneDNN kernel, and where torch-gen's float32 default caps oneDNN, under that cap too.
 */
async function probeLinearCeiling() {
  const entries = [];
  for (const cap of float32Cap ? [null, float32Cap] : [null]) {
    // Under the cap, float32 only: it is what runs there (oneDNN has no bfloat16 kernels below AVX-512).
    const env = cap ? { ...childEnv, ONEDNN_MAX_CPU_ISA: cap } : childEnv;
    const args = [join(here, 'linear_ceiling.py'), String(settings.threads), join(projectRoot, DEFAULT_MODEL), ...(cap ? ['--dtypes=float32'] : [])];
    const outcome = await run('linear ceiling', python, args, { env });
    if (!outcome.ok) {
      entries.push({ failed: outcome.failure });
      continue;
    }
    try {
      const lines = outcome.stdout.split('\n').filter((line) => line.startsWith('{'));
      entries.push(...lines.map((line) => ({ ...JSON.parse(line), ...(cap ? { isaCap: cap } : {}) })));
    } catch (error) {
      // A stray line must not cost the run its results: the probe is recorded as failed.
      entries.push({ failed: `unreadable output (${error.message})` });
    }
  }
  return entries;
}

/**
 * Why each engine cannot run (null: it can), found before anything is measured: torch-gen models are
 * exported, node-llama-cpp installed and its GGUFs written here. Also the GGUF index.
 */
async function availability() {
  const drivers = new Set(engines.map((e) => e.driver));
  const byDriver = {};
  let ggufs = null;
  if (drivers.has('transformers')) byDriver.transformers = await transformersMissing();
  if (drivers.has('llama')) {
    byDriver.llama = await ensureLlama();
    if (!byDriver.llama) {
      const outcome = await ensureGgufs();
      byDriver.llama = outcome.reason ?? null;
      ggufs = outcome.index ?? null;
    }
  }
  const reasons = {};
  for (const engine of engines) {
    reasons[engine.id] = engine.driver === 'torch-gen' ? await torchGenMissing(engine) : byDriver[engine.driver];
  }
  return { reasons, ggufs };
}

function driverCommand(engine) {
  if (engine.driver === 'transformers') return [python, [join(here, 'hf_driver.py')]];
  return [process.execPath, [join(here, `${engine.driver}.mjs`)]];
}

const { reasons, ggufs } = await availability();
const bandwidth = [await probeBandwidth()];
// Probed beside the bandwidth, before and after the engines: the machine's speed drifts within a run.
// The ceiling of the float32 rows (TorchScript and AOTInductor), measured on the default model's weights.
const fp32Runs = FLOAT32_ROWS.some((e) => engines.includes(e) && !reasons[e.id]);
const linearCeiling = fp32Runs && existsSync(join(projectRoot, DEFAULT_MODEL, 'model.pt')) ? [await probeLinearCeiling()] : [];
const results = {};
for (const engine of engines) {
  const reason = reasons[engine.id];
  if (reason) {
    results[engine.id] = { unavailable: reason };
    console.error(`bench/peers: ${engine.id}: not available: ${reason}`);
    continue;
  }
  const file = engine.gguf ? ggufs.files[engine.gguf] : undefined;
  const spec = {
    engine: { ...engine, ggufPath: file?.path, weightBytesPerToken: file?.weight_bytes_per_token },
    threads: settings.threads,
    maxContext: settings.maxContext,
    newTokens: settings.newTokens,
    runs: settings.runs,
    warmup: settings.warmup,
  };
  const [command, args] = driverCommand(engine);
  const options = { env: { ...childEnv, ...engine.env }, timeoutMs: childTimeoutMs };
  console.error(`bench/peers: ${engine.id}: ${settings.promptLengths.join(' and ')}-token prompts`);
  results[engine.id] = { single: await runDriver(engine.id, command, args, { ...spec, mode: 'single', prompts: prompts.single }, options) };
  if (engine.concurrent && settings.concurrency > 0) {
    console.error(`bench/peers: ${engine.id}: ${settings.concurrency} concurrent requests`);
    results[engine.id].concurrent = await runDriver(engine.id, command, args, { ...spec, mode: 'concurrent', prompts: prompts.concurrent }, options);
  }
}
bandwidth.push(await probeBandwidth());
if (linearCeiling.length > 0) linearCeiling.push(await probeLinearCeiling());

const report = {
  benchmark: 'peers',
  machine: info,
  settings,
  prompts: { single: prompts.single, concurrent: prompts.concurrent },
  versions: versions(),
  bandwidth,
  linearCeiling,
  engines,
  results,
};
report.summary = summarize(report);
// The reference's greedy text, for a reader to see that the engines continued the prompt sensibly.
const { reference } = report.summary.agreement;
report.summary.agreement.texts = Object.fromEntries(
  (results[reference]?.single?.prompts ?? []).map((p) => [p.name, { prompt: prompts.decode(prompts.single.find((s) => s.name === p.name).ids), generated: prompts.decode(p.ids) }]),
);

function versions() {
  const all = { torch: bandwidth.find((b) => b.torch)?.torch ?? null };
  for (const entry of Object.values(results)) Object.assign(all, entry.single?.versions);
  return all;
}

mkdirSync(join(projectRoot, 'bench', 'results'), { recursive: true });
const out = values.out ?? join(projectRoot, 'bench', 'results', `peers-${info.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);
const table = markdown(report);
const tablePath = out.replace(/(\.json)?$/, '.md');
writeFileSync(tablePath, `${table}\n`);
console.error(`bench/peers: wrote ${relative(process.cwd(), out)} and ${relative(process.cwd(), tablePath)}`);
console.log(table);
