// The cost of constrained decoding (responseFormat): per-token time of constrained vs free decoding at batch 1
// and batch 16, and the time to compile a schema.
//
//   npm run bench:constrained [-- --tokens 64 --batches 1,16 --repeat 3 --model DIR --device cpu]
//
// Decoding: the same chat prompt, greedy, `tokens` new tokens per request, free or constrained by a JSON schema
// long enough that maxTokens ends it (so both runs decode the same number of steps). Per-token time is the
// wall time after the first token divided by the steps after it (median of `repeat` runs); the overhead is
// constrained / free - 1. Compile time: the first request with a schema (compile + one token) minus the
// second (the compiled schema cached), for each of test/constrained-schemas.ts' schemas. Writes
// bench/results/constrained.json and prints a markdown table for BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';
import { SCHEMA_CASES } from '../test/constrained-schemas.ts';

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

/** Milliseconds per decode step after the first token, for `batch` requests at once. */
async function stepMs(batch, responseFormat) {
  const options = { maxTokens: tokens, temperature: 0, ...(responseFormat ? { responseFormat } : {}) };
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: batch }, () => model.complete(prompt, options)));
  const end = performance.now();
  const firstToken = Math.max(...results.map((r) => start + r.timings.timeToFirstTokenMs));
  const steps = Math.max(...results.map((r) => r.tokenIds.length)) - 1;
  if (results.some((r) => r.finishReason !== 'length')) throw new Error('a request ended before maxTokens; raise the schema length');
  return (end - firstToken) / steps;
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

const compile = [];
for (const { name, schema } of SCHEMA_CASES) {
  // A fresh copy each time, so the first request compiles (the compiled schemas are cached by their text).
  const fresh = { type: 'json_schema', schema: { ...schema, description: `bench ${Math.random()}` } };
  const one = { maxTokens: 1, temperature: 0, responseFormat: fresh };
  let start = performance.now();
  await model.complete(prompt, one);
  const first = performance.now() - start;
  start = performance.now();
  await model.complete(prompt, one);
  const cached = performance.now() - start;
  compile.push({ name, compileMs: Math.max(0, first - cached) });
}
await model.dispose();
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
  `Schema compile time (${compile.length} schemas of test/constrained-schemas.ts): median ${result.compile.medianMs.toFixed(1)} ms, max ${result.compile.maxMs.toFixed(1)} ms.`,
];
console.log(lines.join('\n'));
