// Soak test: many requests with random lengths, aborts, breaks, bad options and disposals, on one
// process; the process must not crash, no slot may leak, and resident memory must stay flat.
//
//   npm run soak [-- --requests 2000 --concurrency 24 --model DIR]
//
// Every --reload-every requests the model is disposed while requests are in flight (they must end with
// 'abort' or DisposedError) and loaded again. RSS is read (after a GC) once 200 requests are done and at
// the end (model loaded both times); the run fails if it grew more than 10%, if any slot is still in use when the model is idle,
// or if any request failed in a way it should not. Writes bench/results/soak.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DisposedError, loadModel, OptionError } from '@org/torch-gen';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '24' },
    'reload-every': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
  },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
const reloadEvery = Number(values['reload-every']);
let state = Number(values.seed);
const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = (n) => Math.floor(random() * n);

const loadOptions = { device: 'cpu', maxBatch: 16, maxContext: 320, maxQueue: 64 };
let model = await loadModel(values.model, loadOptions);
const counts = { completed: 0, aborted: 0, broke: 0, rejectedOptions: 0, disposedMidway: 0, refusedAfterDispose: 0, queueFull: 0, reloads: 0 };
const failures = [];
const rss = () => {
  globalThis.gc?.();
  return process.memoryUsage().rss;
};
let rssAfter200;

async function oneRequest(index) {
  const current = model;
  const prompt = Array.from({ length: 1 + pick(200) }, () => 1 + pick(40000));
  const options = { maxTokens: 1 + pick(48), ...(random() < 0.5 ? { temperature: 0.8, topP: 0.9, seed: index } : {}) };
  const fate = random();
  try {
    if (fate < 0.05) {
      await current.complete(prompt, { ...options, temperature: -1 });
      failures.push(`request ${index}: invalid options were accepted`);
      return;
    }
    if (fate < 0.2) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), pick(200));
      const result = await current.complete(prompt, { ...options, signal: controller.signal });
      counts[result.finishReason === 'abort' ? 'aborted' : 'completed']++;
      return;
    }
    if (fate < 0.3) {
      const stopAfter = 1 + pick(4);
      let chunks = 0;
      for await (const _chunk of current.generate(prompt, options)) if (++chunks >= stopAfter) break;
      counts.broke++;
      return;
    }
    const result = await current.complete(prompt, options);
    counts[result.finishReason === 'abort' ? 'disposedMidway' : 'completed']++;
  } catch (error) {
    if (error instanceof OptionError && fate < 0.05) counts.rejectedOptions++;
    else if (error instanceof DisposedError) counts.refusedAfterDispose++;
    else if (error?.code === 'ERR_QUEUE_FULL') counts.queueFull++;
    else failures.push(`request ${index}: ${error?.stack ?? error}`);
  }
}

const started = performance.now();
let next = 0;
let done = 0;
const inFlight = new Set();
while (done < total) {
  while (inFlight.size < concurrency && next < total) {
    const index = next++;
    const promise = oneRequest(index).finally(() => {
      inFlight.delete(promise);
      done++;
    });
    inFlight.add(promise);
    if (index > 0 && index % reloadEvery === 0) {
      // Dispose while requests run, then load again; requests holding the old model end with 'abort'.
      const old = model;
      counts.reloads++;
      await old.dispose();
      model = await loadModel(values.model, loadOptions);
    }
  }
  await Promise.race(inFlight);
  if (done >= 200 && rssAfter200 === undefined) rssAfter200 = rss();
}
await Promise.all(inFlight);
await new Promise((resolve) => setTimeout(resolve, 50));
const stats = model.stats();
if (stats.activeRequests !== 0 || stats.queuedRequests !== 0) failures.push(`leaked: ${JSON.stringify(stats)}`);
// Compared with the model loaded, as it was after 200 requests; then once more after disposing it.
const rssEnd = rss();
await model.dispose();
const rssDisposed = rss();
const growth = rssEnd / rssAfter200 - 1;
if (growth > 0.1) failures.push(`RSS grew ${(growth * 100).toFixed(1)}% (${rssAfter200} -> ${rssEnd} bytes)`);

const summary = {
  benchmark: 'soak',
  date: new Date().toISOString(),
  model: values.model,
  requests: total,
  concurrency,
  seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  counts,
  rssAfter200MiB: Number((rssAfter200 / 2 ** 20).toFixed(1)),
  rssEndMiB: Number((rssEnd / 2 ** 20).toFixed(1)),
  rssAfterDisposeMiB: Number((rssDisposed / 2 ** 20).toFixed(1)),
  rssGrowthPercent: Number((growth * 100).toFixed(2)),
  failures,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/soak.json', `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify(summary, null, 2));
process.exitCode = failures.length === 0 ? 0 : 1;
