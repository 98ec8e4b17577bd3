// bench/peers driver for node-llama-cpp (installed by the bench into bench/peers/llama/, not ours).
//
// Feeds the token ids as they are (no BOS, no tokenization) to a context sequence and evaluates greedily
// (temperature 0). End-of-generation tokens are yielded and generation goes on past them, as it does in
// the transformers driver, so every engine does the same number of steps. The CPU build is asked for
// explicitly (no GPU probing, no source build, no download): what a CPU user of the prebuilt gets.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readJob, resetPeakRss, runConcurrent, runSingle, writeResult } from './driver.mjs';

const { spec, outPath } = readJob();
const require = createRequire(new URL('./llama/package.json', import.meta.url));
const entry = require.resolve('node-llama-cpp');
const { getLlama, LlamaLogLevel } = await import(entry);
// The package does not export its package.json; it sits two folders above the entry point (dist/index.js).
const version = JSON.parse(readFileSync(new URL('../package.json', pathToFileURL(dirname(entry) + '/')), 'utf8')).version;

const llama = await getLlama({
  gpu: false,
  build: 'never',
  skipDownload: true,
  maxThreads: spec.threads,
  logLevel: LlamaLogLevel.warn,
});
const loadStart = performance.now();
const model = await llama.loadModel({ modelPath: spec.engine.ggufPath, gpuLayers: 0 });
const sequences = spec.mode === 'concurrent' ? spec.prompts.length : 1;
const context = await model.createContext({
  sequences,
  contextSize: spec.maxContext,
  threads: { ideal: spec.threads, min: spec.threads },
});
const loadMs = performance.now() - loadStart;
const reset = resetPeakRss();

const evaluateOptions = { temperature: 0, yieldEogToken: true };
const free = [...Array(sequences)].map(() => context.getSequence());

/**
 * One generation on a free sequence. Its cache is cleared after the last token (outside the timing: the
 * caller stops the clock before it ends the loop), so the next generation starts from an empty sequence.
 */
async function* generate(ids, maxTokens) {
  const sequence = free.pop();
  try {
    let count = 0;
    for await (const token of sequence.evaluate(ids, evaluateOptions)) {
      yield [token];
      if (++count >= maxTokens) break;
    }
  } finally {
    await sequence.clearHistory();
    free.push(sequence);
  }
}

const result = {
  engine: spec.engine.id,
  mode: spec.mode,
  versions: { 'node-llama-cpp': version, llamaCppRelease: llama.llamaCppRelease?.release ?? null },
  info: {
    buildType: llama.buildType,
    gpu: llama.gpu,
    cpuMathCores: llama.cpuMathCores,
    maxThreads: llama.maxThreads,
    contextThreads: context.currentThreads ?? null,
    contextSize: context.contextSize,
    batchSize: context.batchSize,
    flashAttention: context.flashAttention,
    file: spec.engine.ggufPath,
  },
  loadMs,
  weightBytesPerToken: spec.engine.weightBytesPerToken,
};
if (spec.mode === 'concurrent') result.runs = await runConcurrent(spec, generate);
else result.prompts = await runSingle(spec, generate);
writeResult(outPath, result, reset);
await context.dispose();
await model.dispose();
await llama.dispose();
