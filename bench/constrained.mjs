// The cost of constrained decoding (responseFormat): per-token time of constrained vs free decoding at batch 1
// and batch 16, and the time to compile a schema.
//
//   npm run bench:constrained [-- --tokens 64 --batches 1,16 --repeat 3 --model DIR --device cpu]
//
// Decoding: the same chat prompt, greedy, `tokens` new tokens per request, free or constrained by a JSON schema
// long enough that maxTokens ends it (so both runs decode the same number of steps). Per-token time is the
// median time between a request's consecutive tokens once every request of the batch is decoding (median of
// `repeat` runs); the overhead is constrained / free - 1. Compile time: the addon's compileConstraint for each of
// test/constrained-schemas.json's schemas (what the first request with a format waits for; later ones reuse it). Writes
// bench/results/constrained.json and prints a markdown table for BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { loadModel, runtimeInfo } from '@org/torch-gen';
import { loadAddon } from '../dist/native.js';

const SCHEMA_CASES = JSON.parse(readFileSync(new URL('../test/constrained-schemas.json', import.meta.url), 'utf8'));

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    device: { type: 'string', default: 'cpu' },
    tokens: { type: 'string', default: '64' },
    batches: { type: 'string', default: '1,16' },
    repeat: { type: 'string', default: '3' },
  },
});
const tokens = Number(values.tokens);
const batches = values.batches.split(',').map(Number);
const repeat = Number(values.repeat);

const runtime = runtimeInfo();
if (runtime.grammarEngine === null) {
  console.error('bench/constrained: the addon was built without the grammar engine; install Rust and run `npm run build:native`');
  process.exit(1);
}

// Forty records: far more JSON than `tokens`, so every constrained request runs to maxTokens.
const LONG_SCHEMA = {
  type: 'array',
  minItems: 40,
  maxItems: 40,
  items: {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 16 }, age: { type: 'integer', minimum: 0, maximum: 120 }, member: { type: 'boolean' } },
    required: ['name', 'age', 'member'],
    additionalProperties: false,
  },
};

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const model = await loadModel(values.model, { device: values.device, maxBatch: Math.max(...batches), maxContext: 512 });
const prompt = model.chatPromptIds([{ role: 'user', content: 'List the members of the club as JSON records.' }]);

/**
 * Milliseconds per decode step with `batch` requests at once: the median, over every request's chunks that
 * arrive once all requests are decoding, of the time since its previous chunk per token in it. A median of
 * step times shrugs off the prefills at the start and a busy machine's stalls, which a mean over the run does not.
 */
async function stepMs(batch, responseFormat) {
  const options = { maxTokens: tokens, temperature: 0, ...(responseFormat ? { responseFormat } : {}) };
  const arrivals = await Promise.all(
    Array.from({ length: batch }, async () => {
      const times = [];
      let finishReason;
      for await (const chunk of model.generate(prompt, options)) {
        if (chunk.tokenIds.length > 0) times.push([performance.now(), chunk.tokenIds.length]);
        finishReason = chunk.finishReason ?? finishReason;
      }
      if (finishReason !== 'length') throw new Error('a request ended before maxTokens; raise the schema length');
      return times;
    }),
  );
  const allDecoding = Math.max(...arrivals.map((times) => times[0][0]));
  const steps = arrivals.flatMap((times) =>
    times.slice(1).flatMap(([at, count], i) => (times[i][0] >= allDecoding ? [(at - times[i][0]) / count] : [])),
  );
  return median(steps);
}

const format = { type: 'json_schema', schema: LONG_SCHEMA };
await stepMs(2, undefined); // warm-up, and the long schema compiled
await stepMs(2, format);
const decode = [];
for (const batch of batches) {
  const free = [];
  const constrained = [];
  for (let i = 0; i < repeat; i++) {
    free.push(await stepMs(batch, undefined));
    constrained.push(await stepMs(batch, format));
  }
  const row = { batch, freeMsPerStep: median(free), constrainedMsPerStep: median(constrained) };
  row.overheadPercent = (row.constrainedMsPerStep / row.freeMsPerStep - 1) * 100;
  decode.push(row);
  console.error(`batch ${batch}: free ${row.freeMsPerStep.toFixed(2)} ms/step, constrained ${row.constrainedMsPerStep.toFixed(2)} ms/step (${row.overheadPercent.toFixed(1)}%)`);
}

await model.dispose();

// Compile time, measured on the addon itself (what a request's first use of a format waits for, off the event
// loop): a native model with the smallest cache, its vocabulary handed to the engine at load as loadModel does.
const manifest = JSON.parse(readFileSync(join(values.model, 'torch-gen.json'), 'utf8'));
const native = await loadAddon().loadModel(
  {
    modelPath: join(values.model, 'model.pt'), moduleFormat: 'torchscript', interface: manifest.interface, vocabSize: manifest.vocab_size, maxContext: 16,
    numLayers: manifest.num_layers, numKvHeads: manifest.num_kv_heads, headDim: manifest.head_dim, maxBatch: 1, maxQueue: 1,
    prefillChunk: 16, device: 'cpu', dtype: 'float32', cudaGraphs: false, cudaGraphBatchSizes: [], threads: 1, optimizeGraph: false, prefixCacheMiB: 0,
    tokenizerPath: join(values.model, 'tokenizer.json'), eosTokenIds: manifest.eos_token_ids,
  },
  () => {},
);
const compile = [];
for (const { name, schema } of SCHEMA_CASES) {
  const times = [];
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    await native.compileConstraint('json_schema', JSON.stringify(schema));
    times.push(performance.now() - start);
  }
  compile.push({ name, compileMs: median(times) });
}
await native.dispose();
const compileMs = compile.map((c) => c.compileMs);

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const result = {
  date: new Date().toISOString(),
  commit,
  grammarEngine: runtime.grammarEngine,
  torchVersion: runtime.torchVersion,
  cpu: cpus()[0]?.model,
  device: values.device,
  model: values.model,
  promptTokens: prompt.length,
  newTokens: tokens,
  repeat,
  decode,
  compile: { schemas: compile.length, medianMs: median(compileMs), maxMs: Math.max(...compileMs), perSchema: compile },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/constrained.json', `${JSON.stringify(result, null, 2)}\n`);

const lines = [
  `Constrained decoding (${runtime.grammarEngine}), ${values.model} on ${values.device}, ${tokens} new tokens, greedy, median of ${repeat}:`,
  '',
  '| batch | free ms/step | constrained ms/step | overhead |',
  '|---:|---:|---:|---:|',
  ...decode.map((r) => `| ${r.batch} | ${r.freeMsPerStep.toFixed(2)} | ${r.constrainedMsPerStep.toFixed(2)} | ${r.overheadPercent.toFixed(1)}% |`),
  '',
  `Schema compile time (${compile.length} schemas of test/constrained-schemas.json): median ${result.compile.medianMs.toFixed(1)} ms, max ${result.compile.maxMs.toFixed(1)} ms.`,
];
console.log(lines.join('\n'));
