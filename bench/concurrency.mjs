// Aggregate tokens/s at growing numbers of concurrent requests on one model (continuous batching).
//
//   npm run bench:concurrency [-- --levels 1,4,16,32 --tokens 32 --model DIR --device cpu]
//
// Each level starts N greedy requests at once (different prompts of 16-48 tokens, each asking for
// `tokens` new tokens) and measures the wall time until the last one ends: aggregate tokens/s = all
// tokens generated / that time. Time to first token is reported per level (median and worst). Writes
// bench/results/concurrency.json and prints a markdown table for BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    device: { type: 'string', default: 'cpu' },
    levels: { type: 'string', default: '1,4,16,32' },
    tokens: { type: 'string', default: '32' },
  },
});
const levels = values.levels.split(',').map(Number);
const newTokens = Number(values.tokens);
const maxBatch = Math.max(...levels);

function prompt(i) {
  const length = 16 + ((i * 7) % 33);
  return Array.from({ length }, (_, j) => 100 + ((i * 131 + j * 37) % 20000));
}

// Every level repeats the prompts of the levels before it (prompt(i) is fixed): with the prefix cache on, a
// level's prefills would reuse the earlier levels' keys and values, and the aggregate would measure that.
const model = await loadModel(values.model, { device: values.device, maxBatch, maxContext: 256, prefixCacheMiB: 0 });
// Random-token prompts rarely lead to an end-of-sequence token; the table counts the tokens generated.
const options = { maxTokens: newTokens };
const run = async (count) => {
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => model.complete(prompt(i), options)),
  );
  const seconds = (performance.now() - start) / 1000;
  const tokens = results.reduce((sum, r) => sum + r.tokenIds.length, 0);
  const ttft = results.map((r) => r.timings.timeToFirstTokenMs).sort((a, b) => a - b);
  return { tokens, seconds, ttft };
};
await run(2); // warm-up
const rows = [];
for (const level of levels) {
  const { tokens, seconds, ttft } = await run(level);
  const row = {
    concurrency: level,
    tokens,
    seconds: Number(seconds.toFixed(2)),
    tokensPerSecond: Number((tokens / seconds).toFixed(1)),
    ttftMedianMs: Math.round(ttft[Math.floor(ttft.length / 2)]),
    ttftMaxMs: Math.round(ttft[ttft.length - 1]),
  };
  rows.push(row);
  console.error(`concurrency ${String(level).padStart(3)}: ${row.tokensPerSecond} tokens/s (${tokens} tokens in ${row.seconds} s)`);
}
await model.dispose();

const single = rows.find((r) => r.concurrency === 1)?.tokensPerSecond;
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/concurrency.json',
  `${JSON.stringify({ benchmark: 'concurrency', date: new Date().toISOString(), commit, machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) }, runtime: runtimeInfo(), model: values.model, device: values.device, dtype: values.device === 'cpu' ? 'float32' : 'float16', newTokens, rows }, null, 2)}\n`,
);
console.log('| concurrent requests | aggregate tokens/s | vs 1 request | TTFT median ms | TTFT max ms |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = single ? `${(r.tokensPerSecond / single).toFixed(1)}x` : '';
  console.log(`| ${r.concurrency} | ${r.tokensPerSecond} | ${ratio} | ${r.ttftMedianMs} | ${r.ttftMaxMs} |`);
}
