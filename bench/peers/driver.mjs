// What every Node engine driver of bench/peers shares: the job in, the result out, and the clock.
//
// A driver runs in its own process (`node DRIVER.mjs SPEC.json OUT.json`), so that its peak RSS is its
// own and no engine's threads or allocator state touch another's. The spec (written by run.mjs) says
// what to run; the result is written to OUT.json, never stdout, which engines' own logging may share.
import { readFileSync, writeFileSync } from 'node:fs';

/** The job run.mjs wrote, and where to put the result. */
export function readJob() {
  const [specPath, outPath] = process.argv.slice(2);
  if (!specPath || !outPath) {
    console.error(`usage: node ${process.argv[1]} SPEC.json OUT.json`);
    process.exit(2);
  }
  return { spec: JSON.parse(readFileSync(specPath, 'utf8')), outPath };
}

/** Peak resident memory of this process so far, in bytes (getrusage's ru_maxrss is in KiB on Linux). */
const peakRssBytes = () => process.resourceUsage().maxRSS * 1024;

/**
 * Starts Linux's VmHWM (peak RSS) afresh, so that the peak while generating can be told from a peak
 * while loading (a loader's temporary copies). Writing 5 to clear_refs does it (Linux >= 4.0); where it
 * cannot, the generation peak is reported as null.
 */
export function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function vmHwmBytes() {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : null;
}

/** Writes the result with the process's peak RSS, whole and since resetPeakRss() (when `reset` is true). */
export function writeResult(outPath, result, reset) {
  const memory = { peakRssBytes: peakRssBytes(), generationPeakRssBytes: reset ? vmHwmBytes() : null };
  writeFileSync(outPath, `${JSON.stringify({ ...result, ...memory }, null, 1)}\n`);
}

/**
 * Times one generation given as an async iterable of token-id batches (an engine may hand over several
 * tokens at once). Time to first token runs from the call to the first token; decode tokens/s counts the
 * tokens after the first batch over the time from the first token to the last, so prefill is left out.
 * `start` is the performance.now() taken just before the engine was called.
 */
export async function timeTokens(batches, start, limit) {
  const ids = [];
  let first;
  let firstBatch = 0;
  let last;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    last = performance.now();
    if (first === undefined) {
      first = last;
      firstBatch = batch.length;
    }
    ids.push(...batch);
    if (ids.length >= limit) break;
  }
  const decodeSeconds = first === undefined ? 0 : (last - first) / 1000;
  return {
    ttftMs: first === undefined ? null : first - start,
    decodeTokensPerS: decodeSeconds > 0 ? (ids.length - firstBatch) / decodeSeconds : null,
    generated: ids.length,
    ids,
  };
}

/**
 * Starts a measurement of the cores this process keeps busy (CPU time of all its threads over wall time);
 * the function it returns ends it. An engine that runs on one core of two shows 1.0 here.
 */
function coresBusy() {
  const cpu = process.cpuUsage();
  const start = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1000 / (performance.now() - start);
  };
}

/**
 * The single-stream job every driver runs: per prompt, `warmup` untimed generations, then `runs` timed
 * ones. `generate(ids, maxTokens)` returns an async iterable of token-id batches. The ids of the first
 * timed run are kept for the cross-engine agreement check.
 */
export async function runSingle(spec, generate) {
  const prompts = [];
  for (const prompt of spec.prompts) {
    for (let i = 0; i < spec.warmup; i++) await timeTokens(generate(prompt.ids, spec.newTokens), performance.now(), spec.newTokens);
    const runs = [];
    const busy = coresBusy();
    for (let i = 0; i < spec.runs; i++) {
      const start = performance.now();
      runs.push(await timeTokens(generate(prompt.ids, spec.newTokens), start, spec.newTokens));
    }
    const ids = runs[0]?.ids ?? [];
    prompts.push({ name: prompt.name, promptTokens: prompt.ids.length, ids, coresBusy: busy(), runs: runs.map(({ ids: _, ...run }) => run) });
    console.error(`${spec.engine.id}: prompt ${prompt.name}: ${runs.map((r) => r.decodeTokensPerS?.toFixed(1)).join(' ')} tok/s`);
  }
  return prompts;
}

/**
 * The concurrent job: all prompts at once, `runs` times after one warm-up; aggregate tokens/s is every
 * generated token over the wall time from the first call to the last token.
 */
export async function runConcurrent(spec, generate) {
  const once = async () => {
    const start = performance.now();
    const all = await Promise.all(spec.prompts.map((p) => timeTokens(generate(p.ids, spec.newTokens), start, spec.newTokens)));
    const seconds = (performance.now() - start) / 1000;
    const tokens = all.reduce((sum, r) => sum + r.generated, 0);
    const ttft = all.map((r) => r.ttftMs).sort((a, b) => a - b);
    return {
      requests: all.length,
      tokens,
      seconds,
      aggregateTokensPerS: tokens / seconds,
      generatedMin: Math.min(...all.map((r) => r.generated)),
      ttftMedianMs: ttft[Math.floor(ttft.length / 2)],
    };
  };
  for (let i = 0; i < spec.warmup; i++) await once();
  const runs = [];
  for (let i = 0; i < spec.runs; i++) {
    const busy = coresBusy();
    runs.push({ ...(await once()), coresBusy: busy() });
  }
  console.error(`${spec.engine.id}: ${spec.prompts.length} concurrent: ${runs.map((r) => r.aggregateTokensPerS.toFixed(1)).join(' ')} tok/s`);
  return runs;
}
