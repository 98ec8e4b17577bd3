// Gathers what scripts/gpu-suite.sh wrote into its output directory into results.json and results.md:
// the environment, the suite's steps, the GPU tests' outcome, the benchmark tables (torch-gen beside
// transformers), the memory-bandwidth bound, and the issue's targets marked pass or fail.
//
//   node bench/gpu/report.mjs --results DIR --index MODELS/SIZE/index.json
//
// Reads DIR/device.json (bench/gpu/device_info.py), DIR/bench/hf-NAME.json, DIR/bench/torch-gen-NAME.json,
// DIR/tests.json (vitest's JSON reporter) and DIR/steps.tsv, whichever exist: a partial run still reports.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TARGETS, evaluateTargets } from './targets.mjs';

const { values } = parseArgs({ options: { results: { type: 'string' }, index: { type: 'string' } } });
if (!values.results) {
  console.error('report: --results DIR is required');
  process.exit(2);
}
const dir = values.results;
const readJson = (path) => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined);

const device = readJson(join(dir, 'device.json'));
const index = values.index ? readJson(values.index) : undefined;
const benchDir = join(dir, 'bench');
const benchFiles = existsSync(benchDir) ? readdirSync(benchDir).filter((f) => f.endsWith('.json')).sort() : [];
const runs = benchFiles.map((f) => readJson(join(benchDir, f)));
const tests = readJson(join(dir, 'tests.json'));
const steps = existsSync(join(dir, 'steps.tsv'))
  ? readFileSync(join(dir, 'steps.tsv'), 'utf8').trim().split('\n').filter(Boolean).map((line) => {
      const [step, status, seconds, log] = line.split('\t');
      return { step, status, seconds: Number(seconds), log };
    })
  : [];

function provenance() {
  const bundle = readJson(new URL('../../BUNDLE.json', import.meta.url).pathname);
  if (bundle) return { commit: bundle.commit, source: 'BUNDLE.json (the commit the bundle was made from)' };
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit: dirty ? `${commit}+uncommitted` : commit, source: 'git' };
  } catch {
    return { commit: 'unknown', source: 'none' };
  }
}

/** Every measured case as one flat row: model, engine, mode, batch and the figures. */
function caseRows() {
  const rows = [];
  for (const run of runs) {
    for (const c of run.cases ?? []) {
      const hf = run.engine === 'transformers';
      rows.push({
        model: run.model,
        engine: run.engine,
        mode: c.mode,
        batch: c.batch,
        skipped: c.skipped,
        error: c.error,
        ttftMs: hf ? c.ttft_ms : c.ttftMs,
        decodeTokensPerS: hf ? c.decode_tokens_per_s : c.decodeTokensPerS,
        e2eTokensPerS: hf ? c.e2e_tokens_per_s : c.e2eTokensPerS,
        msPerTokenP50: hf ? c.ms_per_token_p50 : c.msPerTokenP50,
        msPerTokenP99: hf ? c.ms_per_token_p99 : c.msPerTokenP99,
        memory: c.memory ? { peakBytes: c.memory.peak_bytes ?? c.memory.peakBytes, method: c.memory.method } : undefined,
      });
    }
  }
  // Model by model (in the index's order), batch by batch, transformers' modes before torch-gen.
  const modelOrder = index ? Object.keys(index.models) : [];
  const rank = (r) => [modelOrder.indexOf(r.model), r.batch, r.engine === 'transformers' ? (r.mode === 'eager' ? 0 : 1) : 2];
  return rows.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
}

function bandwidth() {
  const measured = device?.measured_bandwidth?.bytes_per_second ?? null;
  const spec = device?.spec_bandwidth?.bytes_per_second ?? null;
  return { measured, spec, specSource: device?.spec_bandwidth?.source ?? null, used: spec ?? measured, usedName: spec ? 'spec' : 'measured' };
}

function boundRows(rows, bw) {
  const models = index ? Object.values(index.models) : [];
  return models.map((m) => {
    const tg = rows.find((r) => r.model === m.name && r.engine === 'torch-gen' && r.batch === 1 && !r.error && !r.skipped);
    const bytes = m.weight_bytes_per_token;
    const bound = (b) => (b && bytes ? b / bytes : null);
    return {
      model: m.name,
      shapeOf: m.shape_of,
      parameters: m.parameters,
      weightBytesPerToken: bytes,
      boundSpecTokensPerS: bound(bw.spec),
      boundMeasuredTokensPerS: bound(bw.measured),
      torchGenBatch1TokensPerS: tg?.decodeTokensPerS ?? null,
      fractionOfBound: tg && bound(bw.used) ? tg.decodeTokensPerS / bound(bw.used) : null,
      skipped: m.skipped,
    };
  });
}

const memoryKeys = new Map(); // method text -> the letter the table cites it by
const fmt = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(digits));
const gib = (bytes) => (bytes === null || bytes === undefined ? '–' : `${(bytes / 2 ** 30).toFixed(2)} GiB`);

const rows = caseRows();
const bw = bandwidth();
const bounds = boundRows(rows, bw);
const targets = evaluateTargets(rows, bounds, bw);
const cpuMode = device?.device === 'cpu' || index?.size === 'tiny';
const testSummary = tests
  ? {
      total: tests.numTotalTests,
      passed: tests.numPassedTests,
      failed: tests.numFailedTests,
      skipped: tests.numPendingTests + (tests.numTodoTests ?? 0),
      failures: tests.testResults.flatMap((file) =>
        file.assertionResults.filter((a) => a.status === 'failed').map((a) => ({ test: a.fullName, message: (a.failureMessages[0] ?? '').split('\n')[0] })),
      ),
      fileErrors: tests.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).map((f) => `${f.name}: ${(f.message ?? '').split('\n')[0]}`),
    }
  : undefined;
const results = {
  generated: new Date().toISOString(),
  cpuModePlumbingCheck: cpuMode,
  provenance: provenance(),
  node: process.version,
  device,
  bandwidth: bw,
  steps,
  tests: testSummary,
  benchmark: { size: index?.size, dtype: index?.dtype, runs },
  bounds,
  targets,
};
writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);

const md = [];
md.push('# torch-gen GPU suite results', '');
if (cpuMode) {
  md.push('> **CPU-mode plumbing check: not a GPU figure.** The suite ran with TORCH_GEN_TEST_DEVICE=cpu and toy-sized',
    '> models to prove that it builds, exports, tests, benchmarks and reports end to end. The numbers below say',
    '> nothing about GPU performance, and the targets are evaluated only to exercise the report.', '');
}
md.push(`Date ${results.generated}; commit ${results.provenance.commit}; Node ${process.version}.`, '');
md.push('| | |', '|---|---|');
md.push(`| device | ${device?.name ?? '–'} (${device?.device ?? '?'})${device?.total_memory_bytes ? `, ${gib(device.total_memory_bytes)}` : ''} |`);
md.push(`| driver / CUDA runtime | ${device?.driver ?? '–'} / ${device?.cuda_runtime ?? '–'} |`);
md.push(`| torch (Python) / transformers | ${device?.torch ?? '–'} / ${device?.transformers ?? '–'} |`);
const libtorch = runs.find((r) => r.engine === 'torch-gen')?.runtime?.torchVersion;
md.push(`| libtorch (addon) | ${libtorch ?? '–'} |`);
md.push(`| memory bandwidth | measured ${fmt((bw.measured ?? 0) / 1e9, 0)} GB/s (device-to-device copy); spec ${bw.spec ? `${fmt(bw.spec / 1e9, 0)} GB/s (${bw.specSource})` : 'unknown for this device'} |`);
md.push('');
if (steps.length) {
  md.push('## Steps', '', '| step | status | seconds | log |', '|---|---|---:|---|');
  for (const s of steps) md.push(`| ${s.step} | ${s.status} | ${fmt(s.seconds, 0)} | ${s.log} |`);
  md.push('');
}
if (testSummary) {
  md.push('## GPU tests (vitest.gpu.config.ts)', '');
  md.push(`${testSummary.passed} passed, ${testSummary.failed} failed, ${testSummary.skipped} skipped, of ${testSummary.total}.`, '');
  for (const f of testSummary.failures) md.push(`- FAILED ${f.test}: ${f.message}`);
  for (const f of testSummary.fileErrors) md.push(`- FILE ERROR ${f}`);
  if (testSummary.failures.length + testSummary.fileErrors.length) md.push('');
}
if (rows.length) {
  const settings = runs.find((r) => r.engine === 'transformers')?.cases?.find((c) => c.prompt_tokens);
  md.push('## Benchmark', '');
  md.push(`Greedy, ${index?.dtype ?? '?'} weights, prompts of ${settings?.prompt_tokens ?? '?'} tokens, ${settings?.new_tokens ?? '?'} new tokens per row, ` +
    `median of ${settings?.reps ?? '?'} runs after a warm-up. Decode tok/s = tokens after each row's first / time after the first token (all rows together); ` +
    'ms/token = time between a row\'s successive tokens.', '');
  md.push('| model | batch | engine | TTFT ms | decode tok/s | end-to-end tok/s | ms/token p50 | p99 | peak memory | vs HF eager |');
  md.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const hf = rows.find((x) => x.model === r.model && x.batch === r.batch && x.engine === 'transformers' && x.mode === 'eager');
    const ratio = hf?.decodeTokensPerS && r.decodeTokensPerS ? `${fmt(r.decodeTokensPerS / hf.decodeTokensPerS, 2)}x` : '–';
    const name = `${r.engine} (${r.mode ?? '?'})`;
    if (r.skipped || (r.error && r.decodeTokensPerS === undefined)) {
      md.push(`| ${r.model} | ${r.batch} | ${name} | ${r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`} | | | | | | |`);
      continue;
    }
    const memory = r.memory?.peakBytes ? `${gib(r.memory.peakBytes)} [${memoryKey(r.memory.method)}]` : '–';
    md.push(`| ${r.model} | ${r.batch} | ${name}${r.error ? ` ⚠ ${r.error}` : ''} | ${fmt(r.ttftMs)} | ${fmt(r.decodeTokensPerS)} | ${fmt(r.e2eTokensPerS)} | ${fmt(r.msPerTokenP50, 2)} | ${fmt(r.msPerTokenP99, 2)} | ${memory} | ${r.engine === 'transformers' && r.mode === 'eager' ? '1x' : ratio} |`);
  }
  md.push('', 'Memory: ' + [...memoryKeys.entries()].map(([method, key]) => `[${key}] ${method}`).join('; ') + '.', '');
}
if (bounds.length) {
  md.push('## Memory-bandwidth bound (batch 1)', '');
  md.push('Bound = bandwidth / weight bytes read per decode step (every weight once; embedding tables that are only looked up excluded). ' +
    `Fraction uses the ${bw.usedName} bandwidth.`, '');
  md.push('| model | shape of | parameters | weight bytes/token | bound tok/s (spec) | bound tok/s (measured) | torch-gen tok/s | fraction |');
  md.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const b of bounds) {
    md.push(`| ${b.model} | ${b.shapeOf}${index?.size === 'tiny' ? ' (toy size)' : ''} | ${b.parameters ? `${fmt(b.parameters / 1e6, 1)}M` : '–'} | ${b.weightBytesPerToken ? `${fmt(b.weightBytesPerToken / 1e6, 1)} MB` : b.skipped ?? '–'} | ${fmt(b.boundSpecTokensPerS, 0)} | ${fmt(b.boundMeasuredTokensPerS, 0)} | ${fmt(b.torchGenBatch1TokensPerS)} | ${b.fractionOfBound === null ? '–' : `${fmt(100 * b.fractionOfBound, 0)}%`} |`);
  }
  md.push('');
}
md.push('## Targets (issue 6)', '', '| target | measured | required | result |', '|---|---:|---:|---|');
const shown = (t, value) => (t.unit === '%' ? `${fmt(100 * value, 0)}%` : `${fmt(value, 2)}x`);
for (const t of targets) md.push(`| ${t.description} | ${t.measured === null ? '–' : shown(t, t.measured)} | ${shown(t, t.required)} | ${t.result}${cpuMode ? ' (CPU mode: not meaningful)' : ''} |`);
md.push('');
writeFileSync(join(dir, 'results.md'), `${md.join('\n')}\n`);
console.error(`report: wrote ${join(dir, 'results.md')} and results.json (${TARGETS.length} targets, ${rows.length} cases)`);

function memoryKey(method) {
  if (!memoryKeys.has(method)) memoryKeys.set(method, String.fromCharCode(97 + memoryKeys.size));
  return memoryKeys.get(method);
}
