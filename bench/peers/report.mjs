// bench/peers' report: per-engine figures (min/median/max), the bandwidth bound, the greedy agreement
// between engines, the ratios issue 14 sets targets for, and the markdown table for BENCHMARKS.md.
import { BOUND_TARGETS, TARGETS } from './engines.mjs';

// The engine whose greedy tokens the others are compared with: transformers FP32 (the parity reference of
// the project's tests), else torch-gen FP32.
const REFERENCES = ['transformers-fp32', 'torch-gen-fp32'];
// torch-gen FP32 and transformers FP32 do the same arithmetic; any difference means different work.
const MUST_MATCH = ['torch-gen-fp32', 'transformers-fp32'];

export function spread(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

function percent(fraction) {
  return `${Math.round(fraction * 100)}%`;
}

/** Leading tokens on which two greedy generations agree. */
function leadingAgreement(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Figures of one engine's single-stream result, per prompt, with its bandwidth bound. */
function summarizeSingle(result, bandwidthGBps) {
  const boundMs = bandwidthGBps ? result.weightBytesPerToken / (bandwidthGBps * 1e9) * 1000 : null;
  const prompts = {};
  for (const prompt of result.prompts) {
    const decode = spread(prompt.runs.map((r) => r.decodeTokensPerS));
    prompts[prompt.name] = {
      promptTokens: prompt.promptTokens,
      decodeTokensPerS: decode,
      ttftMs: spread(prompt.runs.map((r) => r.ttftMs)),
      msPerToken: decode ? 1000 / decode.median : null,
      // bound ms / measured ms: 1.0 would be every step reading the weights at the measured bandwidth.
      fractionOfBound: decode && boundMs ? (boundMs * decode.median) / 1000 : null,
      generatedMin: Math.min(...prompt.runs.map((r) => r.generated)),
      coresBusy: prompt.coresBusy ?? null,
    };
  }
  return { weightBytesPerToken: result.weightBytesPerToken, boundMsPerToken: boundMs, prompts };
}

function agreement(results) {
  const reference = REFERENCES.find((id) => results[id]?.single?.prompts);
  if (!reference) return { reference: null, byEngine: {}, parity: null };
  const refIds = Object.fromEntries(results[reference].single.prompts.map((p) => [p.name, p.ids]));
  const byEngine = {};
  for (const [id, entry] of Object.entries(results)) {
    if (!entry.single?.prompts) continue;
    byEngine[id] = Object.fromEntries(
      entry.single.prompts.map((p) => [p.name, { equal: leadingAgreement(p.ids, refIds[p.name] ?? []), of: Math.min(p.ids.length, refIds[p.name]?.length ?? 0) }]),
    );
  }
  // Parity is only decided when both FP32 engines ran.
  const both = MUST_MATCH.every((id) => byEngine[id]);
  const parity = both
    ? Object.values(byEngine[MUST_MATCH.find((id) => id !== reference)]).every((a) => a.equal === a.of && a.of > 0)
    : null;
  return { reference, byEngine, parity };
}

function ratio(target, results, summaries, shortPrompt) {
  const value = (id) => {
    if (target.metric === 'concurrent') return spread((results[id]?.concurrent?.runs ?? []).map((r) => r.aggregateTokensPerS))?.median;
    const prompts = summaries[id]?.prompts;
    if (!prompts) return undefined;
    if (target.metric === 'ttft') return prompts[shortPrompt]?.ttftMs?.median;
    return prompts[shortPrompt]?.decodeTokensPerS?.median;
  };
  const [mine, theirs] = [value(target.engine), value(target.peer)];
  if (mine === undefined || theirs === undefined || !theirs) return { ...target, ratio: null };
  const r = mine / theirs;
  const met = target.atLeast !== undefined ? r >= target.atLeast : r <= target.atMost;
  return { ...target, ratio: r, met };
}

/** Everything the JSON keeps beyond the raw results. */
export function summarize({ results, bandwidth, linearCeiling = [], settings }) {
  const bandwidthGBps = Math.max(0, ...bandwidth.filter((b) => b.bestGBps).map((b) => b.bestGBps)) || null;
  const summaries = {};
  for (const [id, entry] of Object.entries(results)) {
    if (entry.single?.prompts) summaries[id] = summarizeSingle(entry.single, bandwidthGBps);
  }
  const shortPrompt = String(settings.promptLengths[0]);
  const targets = TARGETS.map((t) =>
    ratio(t.metric === 'concurrent' ? { ...t, what: settings.concurrency > 0 ? `${settings.concurrency} ${t.what}` : `${t.what} (--concurrency 0)` } : t, results, summaries, shortPrompt),
  );
  for (const bound of BOUND_TARGETS) {
    const fraction = summaries[bound.engine]?.prompts[shortPrompt]?.fractionOfBound;
    const measured = fraction !== undefined && fraction !== null;
    targets.push({ ...bound, metric: 'bound', ratio: measured ? fraction : null, met: measured ? fraction >= bound.atLeast : undefined });
  }
  return { bandwidthGBps, linearCeiling: ceilings(linearCeiling, bandwidthGBps), engines: summaries, agreement: agreement(results), targets };
}

/**
 * Per dtype, the best read rate of the library's one-row products alone over the probes (before and after
 * the engines), and that rate over the bandwidth bound's: no step built on those kernels gets further.
 */
function ceilings(probes, bandwidthGBps) {
  const best = {};
  for (const entry of probes.flat()) {
    if (!entry.bestGBps) continue;
    const key = entry.isaCap ? `${entry.dtype} (ONEDNN_MAX_CPU_ISA=${entry.isaCap})` : entry.dtype;
    best[key] = Math.max(best[key] ?? 0, entry.bestGBps);
  }
  return Object.fromEntries(Object.entries(best).map(([dtype, gbps]) => [dtype, { gbps, fractionOfBound: bandwidthGBps ? gbps / bandwidthGBps : null }]));
}

const fixed = (v, digits = 1) => (v === null || v === undefined ? '' : v.toFixed(digits));
const triple = (s, digits = 1) => (s ? `${fixed(s.median, digits)} (${fixed(s.min, digits)}-${fixed(s.max, digits)})` : '');
const mb = (bytes) => (bytes ? Math.round(bytes / 1e6) : '');

/** The markdown the run prints at its end: ready to paste into BENCHMARKS.md. */
export function markdown(report) {
  const { settings, machine, summary, results, engines } = report;
  const [short, long] = settings.promptLengths.map(String);
  const lines = [];
  const cpu = machine.cpu;
  lines.push(
    '## Side by side on the CPU (`npm run bench:peers`)',
    '',
    '`bench/peers/run.mjs`: each engine in a child process of its own. Decode tok/s runs from the first generated ' +
      'token to the last; time to first token (TTFT) from the call. Peak RSS "generating" starts after the model ' +
      'is loaded (a loader\'s temporary copies left out); "whole" is the process. Cores busy: CPU time of the ' +
      'process over the wall time of the timed runs.',
    '',
    `SmolLM2-135M-Instruct, greedy, batch 1, ${settings.newTokens} new tokens, ${settings.threads} threads for every engine, ` +
      `the same token ids (no BOS), ${settings.runs} run${settings.runs === 1 ? '' : 's'} after ${settings.warmup} warm-up; median (min-max). ` +
      `${cpu.model} (${machine.logicalCpus} logical CPUs; ${cpu.flags.join(' ')}), ${machine.date.slice(0, 10)}, commit ${machine.commit}. ` +
      `Command: \`${settings.command}\`.`,
    '',
  );
  const head = [
    'engine',
    `decode tok/s, ${short}-token prompt`,
    long ? `decode tok/s, ${long}-token prompt` : null,
    `TTFT ms, ${short} tokens`,
    long ? `TTFT ms, ${long} tokens` : null,
    'weights MB/token',
    'of the bandwidth bound',
    'peak RSS MB (generating / whole)',
    `cores busy (${settings.promptLengths.join(' / ')})`,
    `greedy tokens equal to ${summary.agreement.reference ?? 'the reference'} (${settings.promptLengths.join(' / ')} tokens)`,
  ].filter((h) => h !== null);
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const engine of engines) {
    const entry = results[engine.id];
    if (!entry) continue;
    if (!entry.single?.prompts) {
      const why = entry.unavailable ? `not available: ${entry.unavailable}` : `failed: ${entry.single?.failed ?? entry.failed}`;
      lines.push(`| ${engine.label} | ${why} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const s = summary.engines[engine.id];
    const agree = summary.agreement.byEngine[engine.id] ?? {};
    const cells = [
      engine.label,
      triple(s.prompts[short]?.decodeTokensPerS),
      long ? triple(s.prompts[long]?.decodeTokensPerS) : null,
      triple(s.prompts[short]?.ttftMs, 0),
      long ? triple(s.prompts[long]?.ttftMs, 0) : null,
      mb(s.weightBytesPerToken),
      s.prompts[short]?.fractionOfBound ? percent(s.prompts[short].fractionOfBound) : '',
      `${mb(entry.single.generationPeakRssBytes)} / ${mb(entry.single.peakRssBytes)}`,
      Object.values(s.prompts).map((p) => fixed(p.coresBusy)).join(' / '),
      Object.entries(agree).map(([name, a]) => `${a.equal}/${a.of}`).join(', '),
    ].filter((c) => c !== null);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const concurrent = engines.filter((e) => results[e.id]?.concurrent);
  if (concurrent.length > 0) {
    lines.push('', `| engine | ${settings.concurrency} concurrent requests, aggregate tok/s | TTFT median ms | peak RSS MB (generating / whole) | cores busy |`, '|---|---:|---:|---:|---:|');
    for (const engine of concurrent) {
      const c = results[engine.id].concurrent;
      if (!c.runs) {
        lines.push(`| ${engine.label} | failed: ${c.failed} | | | |`);
        continue;
      }
      const agg = spread(c.runs.map((r) => r.aggregateTokensPerS));
      const ttft = spread(c.runs.map((r) => r.ttftMedianMs));
      const busy = spread(c.runs.map((r) => r.coresBusy));
      lines.push(`| ${engine.label} | ${triple(agg)} | ${fixed(ttft?.median, 0)} | ${mb(c.generationPeakRssBytes)} / ${mb(c.peakRssBytes)} | ${fixed(busy?.median)} |`);
    }
  }
  lines.push('', '| issue 14 target | ratio | target | met |', '|---|---:|---:|---|');
  for (const t of summary.targets) {
    const goal = t.atLeast !== undefined ? `>= ${t.atLeast}` : `<= ${t.atMost}`;
    const met = t.ratio === null ? 'not measured' : t.met ? 'yes' : 'no';
    lines.push(`| ${t.what} | ${t.ratio === null ? '' : `${t.ratio.toFixed(2)}${t.metric === 'bound' ? '' : 'x'}`} | ${goal} | ${met} |`);
  }
  lines.push('');
  lines.push(...aotiNotes(report));
  lines.push(...notes(report));
  return lines.join('\n');
}

/** What each AOTInductor package cost to build (the exporter's manifest entry): one line per package. */
function aotiNotes(report) {
  const out = [];
  for (const engine of report.engines) {
    const aoti = report.results[engine.id]?.single?.aoti;
    if (!aoti) continue;
    out.push(
      `${engine.label}: \`${engine.model}/${aoti.file}\`, ${mb(aoti.bytes)} MB, compiled in ${fixed(aoti.compile_seconds, 0)} s ` +
        `for ${aoti.device}${aoti.cpu_isa ? ` (${aoti.cpu_isa}, ${aoti.threads} threads)` : ''} by torch ${aoti.torch}.`,
      '',
    );
  }
  return out;
}

function notes(report) {
  const { summary, results, bandwidth, settings, machine } = report;
  const out = [];
  // Every engine here is bound by the cores; another process on them makes the figures someone else's.
  // Only the load before the run says so: during it, the run's own children are the load.
  const load = machine.loadAverage1m ?? 0;
  if (load > machine.logicalCpus / 4) {
    out.push(`**The machine was busy (1-minute load average ${load.toFixed(1)} on ${machine.logicalCpus} CPUs): these figures measure the contention, not the engines.**`);
  }
  if (summary.bandwidthGBps) {
    out.push(
      `Bandwidth bound: ${summary.bandwidthGBps.toFixed(1)} GB/s read with ${settings.threads} threads (best of the probes: ` +
        `${bandwidth.map((b) => (b.bestGBps ? b.bestGBps.toFixed(1) : 'failed')).join(', ')} GB/s; ${bandwidth[0]?.method ?? ''}); ` +
        `ms/token bound = weight bytes per token / that bandwidth.`,
    );
  }
  const ceiling = Object.entries(summary.linearCeiling ?? {});
  if (ceiling.length > 0) {
    out.push(
      `The products alone (${report.linearCeiling[0]?.[0]?.method ?? 'bench/peers/linear_ceiling.py'}; every weight matrix of the default model once, nothing else): ` +
        ceiling.map(([dtype, c]) => `${dtype} ${c.gbps.toFixed(1)} GB/s${c.fractionOfBound ? ` (${percent(c.fractionOfBound)} of the bound)` : ''}`).join(', ') +
        '. A step on these kernels pays at least their time.',
    );
  }
  for (const entry of report.linearCeiling?.flat() ?? []) {
    if (entry.failed) out.push(`The products-alone probe failed: ${entry.failed}.`);
  }
  // The first CPU load fixes oneDNN's instruction set for its process (AVX2 for float32 on AMD Zen 4).
  const caps = report.engines.flatMap((engine) => {
    const cap = results[engine.id]?.single?.info?.onednnIsaCap;
    if (!cap) return [];
    const how = cap.value === null ? 'every instruction set' : `${cap.value} (${cap.source === 'torch-gen' ? "torch-gen's choice" : 'from the environment'})`;
    return [`${engine.label}: ${how}`];
  });
  if (caps.length > 0) out.push(`oneDNN's instruction-set cap in each torch-gen process: ${caps.join('; ')}.`);
  const parity = summary.agreement.parity;
  if (parity === false) out.push('**WARNING: torch-gen FP32 and transformers FP32 generated different greedy tokens: the engines are not doing the same work.**');
  if (parity === true) out.push('torch-gen FP32 and transformers FP32 generated identical greedy tokens on every prompt.');
  const first = Object.values(summary.agreement.texts ?? {})[0];
  if (first) out.push(`${summary.agreement.reference} on the short prompt: ${JSON.stringify(first.prompt)} -> ${JSON.stringify(first.generated.slice(0, 160))}`);
  // Every torch-gen variant holds the same weights, so the same parameter count; a smaller one means the
  // count (and so the bound above) misses weights that variant stores outside ordinary tensors.
  const fp32Parameters = results['torch-gen-fp32']?.single?.info?.parameters;
  for (const [id, entry] of Object.entries(results)) {
    const parameters = entry.single?.info?.parameters;
    if (id.startsWith('torch-gen-') && fp32Parameters && parameters && parameters !== fp32Parameters) {
      out.push(`${id}: model.info.parameters is ${parameters}, FP32's is ${fp32Parameters}: its weight bytes per token and bound fraction are counted from the former.`);
    }
  }
  for (const [id, entry] of Object.entries(results)) {
    const short = Object.values(summary.engines[id]?.prompts ?? {}).find((p) => p.generatedMin < settings.newTokens);
    if (short) out.push(`${id}: a run generated ${short.generatedMin} of ${settings.newTokens} tokens (an end-of-sequence token): its figures cover fewer steps.`);
    const info = entry.single?.info;
    if (info) {
      // What an engine says about how it runs: threads, graph nodes and optimisation, quantization.
      const threadFacts = Object.entries(info).filter(([k, v]) => /thread|graph|node|quantiz/i.test(k) && v !== null && typeof v !== 'object');
      if (threadFacts.length) out.push(`${id}: ${threadFacts.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }
  return out;
}
