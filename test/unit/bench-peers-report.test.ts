// bench/peers' report (bench/peers/report.mjs) on results shaped as its drivers write them: figures, bound
// fractions, agreement, targets and the markdown; and run.mjs's refusals of bad flags. No engine runs here.
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { ENGINES } from '../../bench/peers/engines.mjs';
// @ts-expect-error: a plain .mjs module without types
import { markdown, spread, summarize } from '../../bench/peers/report.mjs';

const settings = { runs: 3, warmup: 1, newTokens: 4, threads: 2, concurrency: 16, maxContext: 1024, promptLengths: [9, 519], command: 'npm run bench:peers' };
const machine = { cpu: { model: 'Test CPU', flags: ['avx2'] }, logicalCpus: 2, loadAverage1m: 0.1, date: '2026-11-30T00:00:00.000Z', commit: 'abc1234' };
const bandwidth = [{ bestGBps: 20, method: 'probe' }, { bestGBps: 25, method: 'probe' }];

function single(decode: number[], ttft: number[], ids: number[], weightBytesPerToken = 500e6) {
  const runs = decode.map((d, i) => ({ decodeTokensPerS: d, ttftMs: ttft[i], generated: ids.length }));
  return {
    weightBytesPerToken,
    peakRssBytes: 900e6,
    generationPeakRssBytes: 800e6,
    info: { threadsOption: 'threads: 2' },
    prompts: [
      { name: '9', promptTokens: 9, ids, coresBusy: 1.9, runs },
      { name: '519', promptTokens: 519, ids, coresBusy: 1.8, runs },
    ],
  };
}

const concurrent = (rates: number[]) => ({ runs: rates.map((r) => ({ aggregateTokensPerS: r, ttftMedianMs: 100 })), peakRssBytes: 1e9, generationPeakRssBytes: 1e9 });

function report(results: Record<string, unknown>) {
  const base = { settings, machine, bandwidth, engines: ENGINES, results };
  return { ...base, summary: summarize(base) };
}

describe('bench/peers report', () => {
  test('spread gives min, median (the mean of the middle two for an even count) and max, ignoring nulls', () => {
    expect(spread([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4 });
    expect(spread([null, 5])).toEqual({ min: 5, median: 5, max: 5 });
    expect(spread([])).toBeNull();
  });

  test('the bound is weight bytes per token over the best bandwidth probe, and the fraction uses the median', () => {
    const r = report({ 'torch-gen-fp32': { single: single([10, 20, 30], [50, 60, 70], [1, 2, 3, 4]) } });
    const s = r.summary.engines['torch-gen-fp32'];
    expect(r.summary.bandwidthGBps).toBe(25);
    expect(s.boundMsPerToken).toBeCloseTo(20); // 500 MB / 25 GB/s
    expect(s.prompts['9'].msPerToken).toBeCloseTo(50); // median 20 tok/s
    expect(s.prompts['9'].fractionOfBound).toBeCloseTo(0.4);
  });

  test('targets are ratios of medians, marked met or not, and "not measured" when a side is missing', () => {
    const r = report({
      'torch-gen-fp32': { single: single([30, 30, 30], [60, 60, 60], [1, 2, 3, 4]), concurrent: concurrent([100, 120, 110]) },
      'llama-f32': { single: single([20, 20, 20], [40, 40, 40], [1, 2, 3, 4]), concurrent: concurrent([50, 50, 50]) },
    });
    const byWhat = Object.fromEntries(
      r.summary.targets.map((t: { engine: string; metric: string; peer?: string; ratio: number | null; met?: boolean }) => [`${t.engine}:${t.metric}:${t.peer ?? ''}`, t]),
    );
    expect(byWhat['torch-gen-fp32:decode:llama-f32']).toMatchObject({ ratio: 1.5, met: true });
    expect(byWhat['torch-gen-fp32:ttft:llama-f32']).toMatchObject({ ratio: 1.5, met: false });
    expect(byWhat['torch-gen-fp32:concurrent:llama-f32'].ratio).toBeCloseTo(2.2);
    expect(byWhat['torch-gen-bf16:decode:llama-f16'].ratio).toBeNull();
    expect(byWhat['torch-gen-aoti-fp32:decode:llama-f32'].ratio).toBeNull(); // the package did not run here
    expect(markdown(r)).toContain('| bfloat16 decode vs node-llama-cpp F16 |  | >= 1 | not measured |');
  });

  test('both float32 formats get the bound target: TorchScript and the AOTInductor package, each marked', () => {
    const r = report({
      'torch-gen-fp32': { single: single([25, 25, 25], [60, 60, 60], [1, 2, 3, 4]) }, // 20 of 40 ms: 0.5
      'torch-gen-aoti-fp32': { single: single([32, 32, 32], [60, 60, 60], [1, 2, 3, 4]) }, // 0.64
    });
    const bounds = r.summary.targets.filter((t: { metric: string }) => t.metric === 'bound');
    expect(bounds.map((t: { engine: string; ratio: number | null; met?: boolean }) => [t.engine, t.ratio === null ? null : Number(t.ratio.toFixed(2)), t.met])).toEqual([
      ['torch-gen-fp32', 0.5, false],
      ['torch-gen-aoti-fp32', 0.64, true],
    ]); // the ONEDNN_MAX_CPU_ISA=ALL row is there for comparison, without targets
    expect(markdown(r)).toContain('| AOTInductor FP32 decode as a fraction of the bandwidth bound | 0.64 | >= 0.6 | yes |');
    expect(markdown(r)).toContain('| FP32 decode as a fraction of the bandwidth bound | 0.50 | >= 0.6 | no |');
  });

  test('greedy agreement counts leading equal tokens against transformers FP32, and a torch-gen difference is a warning', () => {
    const r = report({
      'transformers-fp32': { single: single([15, 15, 15], [80, 80, 80], [1, 2, 3, 4]) },
      'torch-gen-fp32': { single: single([17, 17, 17], [90, 90, 90], [1, 2, 9, 4]) },
      'llama-f32': { single: single([30, 30, 30], [50, 50, 50], [1, 2, 3, 5]) },
    });
    expect(r.summary.agreement.reference).toBe('transformers-fp32');
    expect(r.summary.agreement.byEngine['torch-gen-fp32']['9']).toEqual({ equal: 2, of: 4 });
    expect(r.summary.agreement.byEngine['llama-f32']['519']).toEqual({ equal: 3, of: 4 });
    expect(r.summary.agreement.parity).toBe(false);
    expect(markdown(r)).toContain('WARNING: torch-gen FP32 and transformers FP32 generated different greedy tokens');
  });

  test('identical FP32 tokens are stated; an unavailable or failed engine keeps its row with the reason', () => {
    const text = markdown(
      report({
        'transformers-fp32': { single: single([15, 15, 15], [80, 80, 80], [1, 2, 3, 4]) },
        'torch-gen-fp32': { single: single([17, 17, 17], [90, 90, 90], [1, 2, 3, 4]) },
        'torch-gen-int8': { unavailable: 'models/smollm2-135m-instruct-int8 not found: export it' },
        'llama-f16': { single: { failed: 'exited with code 1', stderrTail: [] } },
      }),
    );
    expect(text).toContain('generated identical greedy tokens on every prompt');
    expect(text).toContain('| torch-gen int8 | not available: models/smollm2-135m-instruct-int8 not found: export it |');
    expect(text).toContain('| node-llama-cpp F16 | failed: exited with code 1 |');
    expect(text).toContain('| torch-gen FP32 | 17.0 (17.0-17.0) | 17.0 (17.0-17.0) | 90 (90-90) | 90 (90-90) | 500 | 34% | 800 / 900 | 1.9 / 1.8 | 4/4, 4/4 |');
  });

  test('the products-alone ceiling is the best probe per dtype over the bandwidth bound, stated in the notes', () => {
    const probe = (dtype: string, bestGBps: number) => ({ method: '121 oneDNN one-row products', dtype, bestGBps });
    const base = {
      settings, machine, bandwidth, engines: ENGINES,
      linearCeiling: [[probe('float32', 15), probe('bfloat16', 12)], [probe('float32', 16), probe('bfloat16', 11)]],
      results: { 'torch-gen-fp32': { single: single([10, 10, 10], [50, 50, 50], [1, 2, 3, 4]) } },
    };
    const r = { ...base, summary: summarize(base) };
    expect(r.summary.linearCeiling.float32.gbps).toBe(16);
    expect(r.summary.linearCeiling.float32.fractionOfBound).toBeCloseTo(0.64); // 16 of the best probe's 25
    expect(r.summary.linearCeiling.bfloat16.gbps).toBe(12);
    expect(markdown(r)).toContain('every weight matrix of the default model once, nothing else): float32 16.0 GB/s (64% of the bound), bfloat16 12.0 GB/s (48% of the bound)');
    const failed = { ...base, linearCeiling: [[{ failed: 'exited with code 1' }]] };
    expect(markdown({ ...failed, summary: summarize(failed) })).toContain('The products-alone probe failed: exited with code 1.');
    // One probe failing beside one that worked: the figures of the one, the failure of the other.
    const half = { ...base, linearCeiling: [[probe('float32', 15)], [{ failed: 'timed out' }]] };
    const halfText = markdown({ ...half, summary: summarize(half) });
    expect(halfText).toContain('float32 15.0 GB/s (60% of the bound)');
    expect(halfText).toContain('The products-alone probe failed: timed out.');
    // Under the cap torch-gen's float32 default runs with (AVX2 on Zen 4), a probe of its own, named by it.
    const capped = { ...base, linearCeiling: [[probe('float32', 15), { ...probe('float32', 20), isaCap: 'AVX2' }]] };
    const cappedSummary = summarize(capped);
    expect(cappedSummary.linearCeiling['float32 (ONEDNN_MAX_CPU_ISA=AVX2)'].fractionOfBound).toBeCloseTo(0.8);
    expect(markdown({ ...capped, summary: cappedSummary })).toContain('float32 15.0 GB/s (60% of the bound), float32 (ONEDNN_MAX_CPU_ISA=AVX2) 20.0 GB/s (80% of the bound)');
    // A run without the probe (torch-gen FP32 not among the engines) says nothing about it.
    expect(markdown(report({}))).not.toContain('products alone');
  });

  test("each torch-gen process's oneDNN cap is stated: none, torch-gen's choice, or the environment's", () => {
    const info = (cap: { value: string | null; source: string | null }) => ({ ...single([10, 10, 10], [50, 50, 50], [1, 2, 3, 4]), info: { onednnIsaCap: cap } });
    const text = markdown(report({
      'torch-gen-fp32': { single: info({ value: 'AVX2', source: 'torch-gen' }) },
      'torch-gen-bf16': { single: info({ value: null, source: null }) },
      'torch-gen-fp32-onednn-all': { single: info({ value: 'ALL', source: 'environment' }) },
    }));
    expect(text).toContain("oneDNN's instruction-set cap in each torch-gen process: torch-gen FP32: AVX2 (torch-gen's choice); torch-gen bfloat16: every instruction set; torch-gen FP32, ONEDNN_MAX_CPU_ISA=ALL: ALL (from the environment).");
  });

  test('a machine busy when the run started is called out; a quiet one is not', () => {
    const quiet = report({ 'torch-gen-fp32': { single: single([10, 10, 10], [50, 50, 50], [1, 2, 3, 4]) } });
    expect(markdown(quiet)).not.toContain('The machine was busy');
    const busy = { ...quiet, machine: { ...machine, loadAverage1m: 3.1 } };
    expect(markdown(busy)).toContain('The machine was busy (1-minute load average 3.1 on 2 CPUs)');
  });

  test('a torch-gen variant whose parameter count differs from the FP32 one is called out (its bound is off)', () => {
    const withParameters = (n: number, decode: number) => {
      const result = single([decode, decode, decode], [50, 50, 50], [1, 2, 3, 4]);
      return { single: { ...result, info: { ...result.info, parameters: n } } };
    };
    const text = markdown(report({ 'torch-gen-fp32': withParameters(134_515_008, 20), 'torch-gen-int8': withParameters(28_311_552, 40) }));
    expect(text).toContain("torch-gen-int8: model.info.parameters is 28311552, FP32's is 134515008");
  });

  test('a run cut short by an end-of-sequence token is called out', () => {
    const r = report({ 'torch-gen-fp32': { single: single([10, 10, 10], [50, 50, 50], [1, 2]) } });
    expect(markdown(r)).toContain('torch-gen-fp32: a run generated 2 of 4 tokens');
  });
});

describe('bench/peers command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['bench/peers/run.mjs', ...args], { encoding: 'utf8' });

  test('an unknown engine is refused before anything runs, with the known ones listed', () => {
    const result = run('--engines', 'torch-gen-fp32,llama-f64');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('bench/peers: unknown engine llama-f64; known: torch-gen-fp32, torch-gen-bf16, torch-gen-int8');
  });

  test('a count that is not a positive integer is refused with the flag named', () => {
    const result = run('--runs', '0');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('bench/peers: --runs: expected an integer >= 1, received 0');
  });

  test('a prompt that cannot fit the context with the new tokens is refused', () => {
    const result = run('--prompts', '9,1000', '--tokens', '128');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('the longest prompt plus --tokens exceeds --max-context 1024');
  });
});
