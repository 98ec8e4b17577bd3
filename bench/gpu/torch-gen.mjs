// torch-gen on one benchmark model, measured as bench/gpu/hf_generate.py measures transformers.
//
//   node bench/gpu/torch-gen.mjs --index DIR/index.json --model NAME --out FILE [--device cuda] [--batches 1,32]
//                                [--new-tokens 256] [--reps 3]
//
// The model is the torch-gen export written by python/gpu_bench_models.py (the same weights as the
// transformers directory beside it), fed the same prompts (prompts.json), greedy; the exports have no
// end-of-sequence id, so each request generates exactly --new-tokens tokens. Each batch size loads the model
// anew with maxBatch = that batch (the KV cache is allocated at load, so a batch-1 run holds one slot, as
// transformers does), warms up with one full-length run, then times --reps runs of `batch` concurrent
// generate() calls. Each chunk's arrival is stamped; a chunk of k tokens counts as k tokens spread evenly
// since the previous chunk. Reported as transformers' script does: time to first token, decode tokens/s
// (all tokens after each row's first / from the first row's first token to the last row's last), end-to-end
// tokens/s, and ms between a row's successive tokens (p50/p99). Writes JSON to --out.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';
import { GpuMemorySampler, deviceUsedBytes, nvidiaSmiIndex } from './gpu-memory.mjs';
import { CUDA_GRAPHS_OPTION, acceptsLoadOption } from './load-options.mjs';

const { values } = parseArgs({
  options: {
    index: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
    device: { type: 'string', default: 'cuda' },
    dtype: { type: 'string' },
    batches: { type: 'string', default: '1,32' },
    'new-tokens': { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
  },
});
if (!values.index || !values.model || !values.out) {
  console.error('torch-gen bench: --index, --model and --out are required');
  process.exit(2);
}
const newTokens = Number(values['new-tokens']);
const reps = Number(values.reps);
const device = values.device;
const cuda = device.startsWith('cuda');
const index = JSON.parse(readFileSync(values.index, 'utf8'));
const entry = index.models[values.model];
if (!entry) {
  console.error(`torch-gen bench: ${values.model} is not in ${values.index}`);
  process.exit(2);
}
// transformers runs the index's dtype too (float16 for the full-size models).
const dtype = values.dtype ?? index.dtype;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * sorted.length) - 1))];
}
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);

/** One greedy request; resolves with per-token arrival times (ms, performance.now()) and the finish reason. */
async function timedRequest(model, prompt) {
  const times = [];
  let previous;
  let finishReason;
  for await (const chunk of model.generate(prompt, { maxTokens: newTokens, temperature: 0 })) {
    const now = performance.now();
    const k = chunk.tokenIds.length;
    for (let i = 1; i <= k; i++) times.push(previous === undefined ? now : previous + ((now - previous) * i) / k);
    if (k > 0) previous = now;
    finishReason = chunk.finishReason ?? finishReason;
  }
  return { times, finishReason };
}

async function timedRun(model, prompts) {
  const began = performance.now();
  const rows = await Promise.all(prompts.map((prompt) => timedRequest(model, prompt)));
  const ended = performance.now();
  const firsts = rows.map((r) => r.times[0]);
  const lasts = rows.map((r) => r.times.at(-1));
  const afterFirst = rows.reduce((sum, r) => sum + r.times.length - 1, 0);
  const decodeMs = Math.max(...lasts) - Math.min(...firsts);
  return {
    generated: rows.map((r) => r.times.length),
    finishReasons: [...new Set(rows.map((r) => r.finishReason))],
    ttftMs: median(firsts.map((t) => t - began)),
    ttftMaxMs: Math.max(...firsts) - began,
    decodeTokensPerS: decodeMs > 0 ? (afterFirst * 1000) / decodeMs : null,
    e2eTokensPerS: (rows.reduce((sum, r) => sum + r.times.length, 0) * 1000) / (ended - began),
    stepMs: rows.flatMap((r) => r.times.slice(1).map((t, i) => t - r.times[i])),
  };
}

/** Peak device memory: model.stats()'s own fields when the build has them, else nvidia-smi. */
function memoryFrom(stats, sampled) {
  if (typeof stats.devicePeakBytes === 'number') {
    return {
      peakBytes: stats.devicePeakBytes,
      reservedBytes: stats.deviceReservedBytes ?? null,
      method: 'model.stats().devicePeakBytes (allocator peak since load; no CUDA context)',
      nvidiaSmi: sampled,
    };
  }
  if (cuda) return { ...sampled, reservedBytes: null };
  return { peakBytes: process.resourceUsage().maxRSS * 1024, method: 'process max RSS (cpu device: host memory, whole process)' };
}

async function runCase(batch, prompts, graphs) {
  const options = { device, dtype, maxBatch: batch, maxContext: prompts[0].length + newTokens + 8 };
  if (graphs) options[CUDA_GRAPHS_OPTION] = true;
  const smiIndex = nvidiaSmiIndex(device);
  const sampler = cuda ? new GpuMemorySampler(smiIndex, deviceUsedBytes(smiIndex)).start() : undefined;
  const loadStart = performance.now();
  const model = await loadModel(entry.torch_gen_dir, options);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const batchPrompts = prompts.slice(0, batch);
  try {
    const warmStart = performance.now();
    await timedRun(model, batchPrompts); // first-run allocation, kernel selection, graph capture
    const warmupSeconds = (performance.now() - warmStart) / 1000;
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(await timedRun(model, batchPrompts));
    const stats = model.stats();
    const steps = runs.flatMap((r) => r.stepMs).sort((a, b) => a - b);
    const generated = [...new Set(runs.flatMap((r) => r.generated))];
    const finishReasons = [...new Set(runs.flatMap((r) => r.finishReasons))];
    const result = {
      engine: 'torch-gen',
      mode: graphs ? 'cuda-graphs' : 'default',
      batch,
      loadOptions: options,
      loadSeconds: Number(loadSeconds.toFixed(2)),
      warmupSeconds: Number(warmupSeconds.toFixed(2)),
      reps,
      newTokens,
      promptTokens: batchPrompts[0].length,
      generatedPerRow: generated,
      ttftMs: median(runs.map((r) => r.ttftMs)),
      ttftMaxMs: median(runs.map((r) => r.ttftMaxMs)),
      decodeTokensPerS: median(runs.map((r) => r.decodeTokensPerS)),
      e2eTokensPerS: median(runs.map((r) => r.e2eTokensPerS)),
      msPerTokenP50: percentile(steps, 50),
      msPerTokenP99: percentile(steps, 99),
      memory: memoryFrom(stats, sampler?.stop() ?? null),
      stats,
    };
    if (generated.length !== 1 || generated[0] !== newTokens || finishReasons.join() !== 'length') {
      result.error = `rows generated ${generated.join('/')} tokens (finish ${finishReasons.join('/')}), expected ${newTokens} ending in 'length'`;
    }
    return result;
  } finally {
    sampler?.stop();
    await model.dispose();
  }
}

const result = {
  engine: 'torch-gen',
  model: values.model,
  size: index.size,
  device,
  dtype,
  runtime: runtimeInfo(),
  cases: [],
};
if (entry.skipped) {
  result.skipped = entry.skipped;
} else {
  const prompts = JSON.parse(readFileSync(`${dirname(values.index)}/prompts.json`, 'utf8')).by_vocab[String(entry.vocab_size)];
  const graphsAccepted = await acceptsLoadOption(entry.torch_gen_dir, CUDA_GRAPHS_OPTION);
  result.cudaGraphs = !cuda
    ? 'not requested (cpu device)'
    : graphsAccepted
      ? `requested (${CUDA_GRAPHS_OPTION}: true)`
      : `not requested: loadModel does not accept \`${CUDA_GRAPHS_OPTION}\` in this build`;
  for (const batch of values.batches.split(',').filter(Boolean).map(Number)) {
    console.error(`torch-gen bench: ${values.model} batch ${batch}`);
    let row;
    try {
      row = await runCase(batch, prompts, cuda && graphsAccepted);
    } catch (error) {
      // An out-of-memory or device error on one case is a result to report, not a reason to stop.
      row = { engine: 'torch-gen', batch, error: `${error.name}: ${error.message}` };
    }
    result.cases.push(row);
    const { stats: _stats, loadOptions: _options, ...brief } = row;
    console.error(`torch-gen bench:   ${JSON.stringify(brief)}`);
  }
}
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 1)}\n`);
