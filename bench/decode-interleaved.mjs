// Decode ms/token at batch 1 of several model directories loaded at once and run in turn, round after round,
// so that a shared machine's load drifts over all of them alike (TorchScript against AOTInductor, say).
//
//   node bench/decode-interleaved.mjs [--threads 2] [--rounds 5] [--tokens 128] DIR[#dtype] ...
//   node bench/decode-interleaved.mjs models/smollm2-135m-instruct models/smollm2-135m-instruct-aoti \
//     'models/smollm2-135m-instruct#bfloat16' models/smollm2-135m-instruct-aoti-bf16
//
// Greedy on the first 400 characters of bench/peers/prompt.txt. Prints one line per directory: the median
// (and min) decode ms/token over the rounds, from the first token to the last, and the median time to first token.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel } from '@org/torch-gen';

const { values, positionals } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '5' }, tokens: { type: 'string', default: '128' } },
  allowPositionals: true,
});
const [threads, rounds, maxTokens] = [values.threads, values.rounds, values.tokens].map(Number);
const text = readFileSync(new URL('./peers/prompt.txt', import.meta.url), 'utf8').slice(0, 400);
const models = [];
for (const entry of positionals) {
  const [dir, dtype] = entry.split('#');
  models.push(await loadModel(dir, { device: 'cpu', threads, maxBatch: 1, maxContext: 1024, ...(dtype ? { dtype } : {}) }));
}
for (const model of models) await model.complete(text, { maxTokens: 16, temperature: 0 });
const msPerToken = models.map(() => []);
const ttft = models.map(() => []);
for (let round = 0; round < rounds; round += 1) {
  for (const [i, model] of models.entries()) {
    const start = performance.now();
    let first = 0;
    let last = 0;
    let n = 0;
    for await (const chunk of model.generate(text, { maxTokens, temperature: 0 })) {
      last = performance.now();
      if (n === 0) first = last;
      n += chunk.tokenIds.length;
    }
    msPerToken[i].push((last - first) / Math.max(1, n - 1));
    ttft[i].push(first - start);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
positionals.forEach((entry, i) => {
  const info = models[i].info;
  console.log(`${entry} (${info.dtype}, ${info.graphOptimization}): decode ${median(msPerToken[i]).toFixed(1)} ms/token ` +
    `(min ${Math.min(...msPerToken[i]).toFixed(1)}), TTFT ${median(ttft[i]).toFixed(0)} ms, ${threads} threads, ${rounds} rounds`);
});
for (const model of models) await model.dispose();
