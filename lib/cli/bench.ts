/**
 * `torch-gen bench`: a quick measure of a model's speed on this machine. Loads it, warms up, runs N
 * requests C at a time, and prints aggregate tokens/s, per-request tokens/s and time to first token.
 */
import type { Completion } from '../model.js';
import { OptionError } from '../errors.js';
import { integerFlag, numberFlag, parse, stringFlag } from './args.js';
import { LOAD_FLAGS, LOAD_HELP, loadOptions, loadWithProgress, MODEL_HELP, modelDir } from './load-flags.js';
import { Progress } from './progress.js';

const HELP = `Usage: torch-gen bench [options]

Measures generation speed: loads the model, warms it up, then runs N requests with C of them at a time
(each its own prompt of random tokens, greedy unless --temperature is given, up to --max-tokens new
tokens or an end-of-sequence token) and prints aggregate tokens/s (all generated tokens over the wall time,
prefill included), tokens/s per request, and time to first token.

Options:
${MODEL_HELP}
  -r, --requests N              requests to run (default 16)
  -c, --concurrency C           requests at a time (default 4); the model gets C slots unless --max-batch
  -n, --max-tokens N            tokens each request generates (default 64)
  -p, --prompt-tokens N         prompt length in tokens (default 32)
  -t, --temperature T           sampling temperature (default 0: greedy)
      --json                    print the results as JSON
  -q, --quiet                   no progress line
  -h, --help                    show this help
${LOAD_HELP}`;

export interface BenchResult {
  model: string;
  device: string;
  dtype: string;
  requests: number;
  concurrency: number;
  promptTokens: number;
  maxTokens: number;
  generatedTokens: number;
  seconds: number;
  tokensPerSecond: number;
  perRequestTokensPerSecond: { median: number; min: number };
  timeToFirstTokenMs: { median: number; p90: number; p99: number; max: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Deterministic prompts of ordinary tokens (a small LCG), clear of the low ids where special tokens sit. */
function prompt(index: number, length: number, vocabSize: number): number[] {
  const low = Math.min(100, Math.floor(vocabSize / 4));
  let state = 12345 + index * 7919;
  return Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return low + (state % (vocabSize - low));
  });
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (resolved < 1) throw new OptionError(`--${name}`, `expected an integer >= 1, received ${resolved}`);
  return resolved;
}

async function runAll(count: number, concurrency: number, make: (i: number) => Promise<Completion>, onDone: (n: number) => void) {
  const results: Completion[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await make(i);
      onDone(results.filter(Boolean).length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export async function runBench(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...LOAD_FLAGS,
    requests: { type: 'string', short: 'r' },
    concurrency: { type: 'string', short: 'c' },
    'max-tokens': { type: 'string', short: 'n' },
    'prompt-tokens': { type: 'string', short: 'p' },
    temperature: { type: 'string', short: 't' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const requests = positive('requests', integerFlag('requests', stringFlag(values, 'requests')), 16);
  const concurrency = positive('concurrency', integerFlag('concurrency', stringFlag(values, 'concurrency')), 4);
  const maxTokens = positive('max-tokens', integerFlag('max-tokens', stringFlag(values, 'max-tokens')), 64);
  const promptTokens = positive('prompt-tokens', integerFlag('prompt-tokens', stringFlag(values, 'prompt-tokens')), 32);
  const temperature = numberFlag('temperature', stringFlag(values, 'temperature')) ?? 0;
  const dir = modelDir(values);
  const progress = new Progress({ quiet: values.quiet === true || values.json === true });
  await using model = await loadWithProgress(dir, { maxBatch: concurrency, ...loadOptions(values) }, progress);
  const vocab = model.info.vocabSize;
  const eos = new Set(model.info.eosTokenIds);
  const request = (i: number) => model.complete(prompt(i, promptTokens, vocab), { maxTokens, temperature, seed: i });

  progress.start('warming up');
  await runAll(Math.min(2, concurrency), concurrency, (i) => request(requests + i), () => {});
  progress.done('warmed up in {s} s');
  progress.start(`0/${requests} requests`);
  const start = performance.now();
  const results = await runAll(requests, concurrency, request, (n) => progress.update(`${n}/${requests} requests`));
  const seconds = (performance.now() - start) / 1000;
  progress.done(`${requests} requests in {s} s`);

  const generated = results.reduce((sum, r) => sum + r.tokenIds.length, 0);
  const early = results.filter((r) => r.tokenIds.length < maxTokens && eos.has(r.tokenIds[r.tokenIds.length - 1] as number)).length;
  const ttft = results.map((r) => r.timings.timeToFirstTokenMs).sort((a, b) => a - b);
  const perRequest = results.map((r) => r.timings.tokensPerSecond).sort((a, b) => a - b);
  const round = (n: number, digits = 1) => Number(n.toFixed(digits));
  const result: BenchResult = {
    model: dir,
    device: model.info.device,
    dtype: model.info.dtype,
    requests,
    concurrency,
    promptTokens,
    maxTokens,
    generatedTokens: generated,
    seconds: round(seconds, 2),
    tokensPerSecond: round(generated / seconds),
    perRequestTokensPerSecond: { median: round(percentile(perRequest, 50)), min: round(perRequest[0] ?? 0) },
    timeToFirstTokenMs: {
      median: Math.round(percentile(ttft, 50)),
      p90: Math.round(percentile(ttft, 90)),
      p99: Math.round(percentile(ttft, 99)),
      max: Math.round(ttft[ttft.length - 1] ?? 0),
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `model                 ${dir} (${result.device}, ${result.dtype})`,
    `requests              ${requests}, ${concurrency} at a time, ${promptTokens} prompt tokens, ${maxTokens} new tokens each`,
    `generated             ${generated} tokens in ${result.seconds} s${early > 0 ? ` (${early} requests ended early at end-of-sequence)` : ''}`,
    `aggregate             ${result.tokensPerSecond} tokens/s`,
    `per request           ${result.perRequestTokensPerSecond.median} tokens/s median, ${result.perRequestTokensPerSecond.min} slowest`,
    `time to first token   ${result.timeToFirstTokenMs.median} ms median, ${result.timeToFirstTokenMs.p90} p90, ${result.timeToFirstTokenMs.p99} p99, ${result.timeToFirstTokenMs.max} max`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
