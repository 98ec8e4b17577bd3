// bench/peers driver for torch-gen, used through its package name as a user imports it (the built dist/).
//
// Greedy (temperature 0) on the token ids as they are. The thread count goes to loadModel as `threads`
// where this torch-gen accepts that option; an older one refuses it as unknown, and then the model loads
// without it and the result says so (OMP_NUM_THREADS, set by run.mjs for every child, is the only cap then).
import { readFileSync } from 'node:fs';
import { loadModel, OptionError, runtimeInfo } from '@org/torch-gen';
import { readJob, resetPeakRss, runConcurrent, runSingle, writeResult } from './driver.mjs';

const { spec, outPath } = readJob();
const { engine } = spec;
const base = {
  device: 'cpu',
  // Every run repeats the same prompt, which the peers prefill from scratch each time: with the prefix cache
  // on, torch-gen's later runs would reuse the earlier ones' keys and values, and TTFT would measure that.
  prefixCacheMiB: 0,
  ...engine.load,
  maxBatch: spec.mode === 'concurrent' ? spec.prompts.length : 1,
  maxContext: spec.maxContext,
};

const loadStart = performance.now();
let model;
let threadsOption;
try {
  model = await loadModel(engine.model, { ...base, threads: spec.threads });
  threadsOption = `threads: ${spec.threads}`;
} catch (error) {
  if (!(error instanceof OptionError)) throw error;
  // Only a torch-gen without the option gets here with these options (a wrong value would fail again).
  model = await loadModel(engine.model, base);
  threadsOption = `not accepted (${error.message}); OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? 'unset'}`;
}
const loadMs = performance.now() - loadStart;
const reset = resetPeakRss();

async function* generate(ids, maxTokens) {
  for await (const chunk of model.generate(ids, { maxTokens, temperature: 0 })) yield chunk.tokenIds;
}

/**
 * Bytes of weights one decode step reads: every parameter (the tied embedding once, as the output matrix)
 * at the width the step reads it; per-channel int8 scales (about 0.3% of the int8 bytes) are left out.
 * An int8 model's info.parameters counts its int8 elements (the output projection's own int8 copy among
 * them) and its float32 lookup table, which a step reads one row of: the table is taken out.
 */
function weightBytesPerToken(info, aoti) {
  const lookupTable = info.vocabSize * info.numHeads * info.headDim;  // [vocab, hidden], hidden = heads x head_dim
  if (info.quantization === 'int8-dynamic') return info.parameters - lookupTable;
  const width = { float32: 4, bfloat16: 2, float16: 2 }[info.dtype];
  // A frozen AOTInductor package holds a tied embedding twice, the table and the prepacked output layer.
  if (aoti) return (info.parameters - lookupTable) * width;
  return info.parameters * width;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
// An AOTInductor package's compile time and size, as the exporter recorded them (null for TorchScript).
const aoti = JSON.parse(readFileSync(`${engine.model}/torch-gen.json`, 'utf8')).aoti ?? null;
const stats = model.stats();
const result = {
  engine: engine.id,
  mode: spec.mode,
  versions: { 'torch-gen': pkg.version, libtorch: runtimeInfo().torchVersion },
  aoti,
  info: { ...model.info, threadsOption, runtimeCpuThreads: runtimeInfo().cpuThreads, statsWeightBytes: stats.weightBytes, load: base, onednnIsaCap: runtimeInfo().backend.onednnIsaCap },
  loadMs,
  weightBytesPerToken: weightBytesPerToken(model.info, aoti),
};
if (spec.mode === 'concurrent') result.runs = await runConcurrent(spec, generate);
else result.prompts = await runSingle(spec, generate);
writeResult(outPath, result, reset);
await model.dispose();
