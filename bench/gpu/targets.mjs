// The performance targets of issue 6, evaluated on the benchmark's flat rows (bench/gpu/report.mjs).
// Every ratio uses decode tokens/s (tokens after the first / time after the first token), batch 1 unless
// the target says otherwise; "HF eager" is transformers' generate() without compilation, same weights,
// same prompts, same dtype.

export const TARGETS = [
  { id: 'gpt2-vs-hf', model: 'gpt2-124m', kind: 'vs-hf-eager', required: 3, description: 'GPT-2 124M, batch 1: torch-gen ≥ 3x HF eager tok/s' },
  { id: 'tinyllama-vs-hf', model: 'tinyllama-1.1b', kind: 'vs-hf-eager', required: 1.5, description: '1B-class (TinyLlama-1.1B shape), batch 1: ≥ 1.5x HF eager tok/s' },
  { id: '7b-bandwidth', model: 'llama2-7b', kind: 'fraction-of-bound', required: 0.7, description: '7B-class (Llama-2-7B shape), batch 1: ≥ 70% of the bandwidth bound' },
  { id: 'qwen2-batch-scaling', model: 'qwen2-0.5b', kind: 'batch-scaling', required: 10, description: '0.5B-class (Qwen2-0.5B shape): batch-32 aggregate tok/s ≥ 10x batch 1' },
];

const usable = (row) => row && !row.error && !row.skipped && typeof row.decodeTokensPerS === 'number';

/** [{ ...target, measured, unit, result: 'pass' | 'fail' | 'not measured: why' }] */
export function evaluateTargets(rows, bounds, bandwidth) {
  const find = (model, engine, batch, mode) =>
    rows.find((r) => r.model === model && r.engine === engine && r.batch === batch && (mode === undefined || r.mode === mode));
  return TARGETS.map((target) => {
    const tg1 = find(target.model, 'torch-gen', 1);
    let measured = null;
    let missing;
    if (target.kind === 'vs-hf-eager') {
      const hf = find(target.model, 'transformers', 1, 'eager');
      if (!usable(tg1)) missing = whyMissing('torch-gen batch 1', tg1);
      else if (!usable(hf)) missing = whyMissing('HF eager batch 1', hf);
      else measured = tg1.decodeTokensPerS / hf.decodeTokensPerS;
    } else if (target.kind === 'fraction-of-bound') {
      const bound = bounds.find((b) => b.model === target.model);
      if (!usable(tg1)) missing = whyMissing('torch-gen batch 1', tg1) ?? bound?.skipped;
      else if (!bound?.weightBytesPerToken || !bandwidth.used) missing = 'no bandwidth or weight size';
      else measured = tg1.decodeTokensPerS / (bandwidth.used / bound.weightBytesPerToken);
    } else {
      const tg32 = find(target.model, 'torch-gen', 32);
      if (!usable(tg1)) missing = whyMissing('torch-gen batch 1', tg1);
      else if (!usable(tg32)) missing = whyMissing('torch-gen batch 32', tg32);
      else measured = tg32.decodeTokensPerS / tg1.decodeTokensPerS;
    }
    const unit = target.kind === 'fraction-of-bound' ? '%' : 'x';
    const result = measured === null ? `not measured: ${missing}` : measured >= target.required ? 'pass' : 'fail';
    return { ...target, measured, unit, result };
  });
}

function whyMissing(what, row) {
  if (!row) return `no ${what} run`;
  if (row.skipped) return `${what} skipped (${row.skipped})`;
  return `${what} failed (${row.error})`;
}
