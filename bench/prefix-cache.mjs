// Time to first token with and without automatic prefix caching, on SmolLM2 on the CPU (FP32).
//
//   npm run bench:prefix [-- --lengths 256,1024,1300,1900 --trials 5 --concurrent 16 --shared 500 --model DIR]
//
// 1. Cold vs warm by system-prompt length: a chat whose system prompt (of N tokens) was never seen, then
//    a chat with the same system prompt and another question. Each trial starts a new system prompt (its
//    first words differ), so the cold one finds nothing cached. The warm reply must equal what a model
//    with the cache off gives for the same chat (checked for every trial).
// 2. Concurrent chats sharing a system prompt: --concurrent requests at once, each with its own question
//    behind the same --shared-token system prompt, on a model with the cache off and then on (same run,
//    maxBatch = the number of requests): median and max time to first token.
// Writes bench/results/prefix-cache.json and prints markdown tables for BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    lengths: { type: 'string', default: '256,1024,1300,1900' },
    trials: { type: 'string', default: '5' },
    concurrent: { type: 'string', default: '16' },
    shared: { type: 'string', default: '500' },
  },
});
const lengths = values.lengths.split(',').map(Number);
const trials = Number(values.trials);
const concurrent = Number(values.concurrent);
const sharedLength = Number(values.shared);
// SmolLM2's export holds 2048 tokens: the longest system prompt leaves room for the question and the reply.
const maxContext = Math.min(2048, Math.max(...lengths, sharedLength) + 128);
const load = { device: 'cpu', dtype: 'float32', maxContext };
const generate = { maxTokens: 16, temperature: 0 };

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x) => Math.round(x);
  return { min: round(sorted[0]), median: round(sorted[Math.floor(sorted.length / 2)]), max: round(sorted.at(-1)) };
};

const FILLER =
  'Our shop repairs and rents bicycles. We open at nine and close at seven, every day but Sunday. ' +
  'Customers may book a repair online or come by; tires are fixed while they wait. ';
/** A system prompt of exactly `tokens` tokens, its first words unique to `tag`. */
function systemPrompt(model, tokens, tag) {
  const text = `Shop ${tag}. ` + FILLER.repeat(Math.ceil((tokens * 6) / FILLER.length) + 4);
  return model.tokenizer.decode(model.tokenizer.encode(text).slice(0, tokens));
}
const chat = (system, question) => [
  { role: 'system', content: system },
  { role: 'user', content: question },
];

const cached = await loadModel(values.model, { ...load, maxBatch: 4 });
const uncached = await loadModel(values.model, { ...load, maxBatch: 4, prefixCacheMiB: 0 });
await cached.chat(chat('warm-up', 'hello'), generate);
await uncached.chat(chat('warm-up', 'hello'), generate);

const byLength = [];
let mismatches = 0;
for (const length of lengths) {
  const cold = [];
  const warm = [];
  for (let trial = 0; trial < trials; trial++) {
    const system = systemPrompt(cached, length, `${length}-${trial}`);
    cold.push((await cached.chat(chat(system, 'When do you open?'), generate)).timings.timeToFirstTokenMs);
    const reply = await cached.chat(chat(system, 'Do you fix tires?'), generate);
    warm.push(reply.timings.timeToFirstTokenMs);
    const fresh = await uncached.chat(chat(system, 'Do you fix tires?'), generate);
    if (JSON.stringify(fresh.tokenIds) !== JSON.stringify(reply.tokenIds)) mismatches += 1;
  }
  const row = { systemPromptTokens: length, coldMs: stats(cold), warmMs: stats(warm) };
  row.ratio = Number((row.warmMs.median / row.coldMs.median).toFixed(3));
  byLength.push(row);
  console.error(`system prompt ${length} tokens: cold ${row.coldMs.median} ms, warm ${row.warmMs.median} ms (${row.ratio}x)`);
}
await cached.dispose();
await uncached.dispose();

const QUESTIONS = ['When do you open?', 'Do you fix tires?', 'Can I rent a bike?', 'Where is the shop?', 'Do you sell helmets?', 'How much is a repair?', 'Can I book online?', 'Do you open on Sunday?'];
const concurrency = [];
for (const prefixCacheMiB of [0, undefined]) {
  const model = await loadModel(values.model, { ...load, maxBatch: concurrent, ...(prefixCacheMiB === 0 ? { prefixCacheMiB } : {}) });
  await model.chat(chat('warm-up', 'hello'), generate);
  const system = systemPrompt(model, sharedLength, 'shared');
  const results = await Promise.all(
    Array.from({ length: concurrent }, (_, i) => model.chat(chat(system, `${QUESTIONS[i % QUESTIONS.length]} (${i})`), generate)),
  );
  const row = { cache: prefixCacheMiB === 0 ? 'off' : 'on', ttftMs: stats(results.map((r) => r.timings.timeToFirstTokenMs)), promptTokensPrefilled: model.stats().promptTokens };
  concurrency.push(row);
  console.error(`${concurrent} concurrent chats, cache ${row.cache}: TTFT median ${row.ttftMs.median} ms, max ${row.ttftMs.max} ms`);
  await model.dispose();
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/prefix-cache.json',
  `${JSON.stringify({ benchmark: 'prefix-cache', date: new Date().toISOString(), commit, machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) }, runtime: runtimeInfo(), model: values.model, device: 'cpu', dtype: 'float32', trials, byLength, concurrency, mismatches }, null, 2)}\n`,
);
const range = (s) => `${s.median} (${s.min}-${s.max})`;
console.log('| system prompt tokens | cold TTFT ms, median (min-max) | warm TTFT ms | warm / cold |');
console.log('|---:|---:|---:|---:|');
for (const r of byLength) console.log(`| ${r.systemPromptTokens} | ${range(r.coldMs)} | ${range(r.warmMs)} | ${r.ratio}x |`);
console.log('');
console.log(`| ${concurrent} concurrent chats, ${sharedLength}-token shared system prompt | TTFT ms, median (min-max) | prompt tokens prefilled |`);
console.log('|---|---:|---:|');
for (const r of concurrency) console.log(`| prefix cache ${r.cache} | ${range(r.ttftMs)} | ${r.promptTokensPrefilled} |`);
const off = concurrency.find((r) => r.cache === 'off');
const on = concurrency.find((r) => r.cache === 'on');
console.log(`\nmedian TTFT with the cache: ${(on.ttftMs.median / off.ttftMs.median).toFixed(2)}x of without; warm replies differing from a cache-less model: ${mismatches}`);
if (mismatches > 0) process.exitCode = 1;
