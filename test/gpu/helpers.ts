// What the GPU tests share: the device under test, where scripts/gpu-suite.sh put the fixtures and the
// transformers references, and the precision tolerances.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Device, TokenLogprob } from '@org/torch-gen';

/** The device the suite tests: TORCH_GEN_TEST_DEVICE, 'cuda' by default ('cpu' proves the plumbing). */
export const device = (process.env.TORCH_GEN_TEST_DEVICE ?? 'cuda') as Device;
export const onCuda = device.startsWith('cuda');
/** scripts/gpu-suite.sh's work directory: fixtures/ and references.json. */
export const workDir = resolve(process.env.TORCH_GEN_GPU_WORK ?? join(import.meta.dirname, '..', '..', 'models', 'gpu-suite'));
export const fixtureDir = (name: string) => join(workDir, 'fixtures', name);
export const referencesPath = join(workDir, 'references.json');
export const KV_FIXTURES = ['gpt2-kv', 'llama-kv', 'qwen2-kv'] as const;

/**
 * Half-precision tolerance on log-probabilities, relative to the step's logit scale (its largest |logit| in
 * transformers' float32): |logprob(torch-gen, float16) - logprob(transformers, float32)| must stay below
 * FP16_TOLERANCE x max|logit| for the chosen token and its 20 best alternatives, at every step compared (up
 * to 16, while the run follows transformers' greedy path). Calibration: the same model.pt run in float16 by
 * Python on the CPU reaches 3.2e-3 (gpt2-kv), 1.0e-2 (llama-kv) and 1.4e-2 (qwen2-kv) on these fixtures,
 * whose wide random weights (std 0.25-0.35) amplify rounding more than trained weights do; 3e-2 leaves twice
 * that, and a wrong kernel, cast or position shows up at the scale of the logits themselves (ratios near 1).
 */
export const FP16_TOLERANCE = 3e-2;
/**
 * bfloat16 keeps 8 significant bits to float16's 11. Calibrated as above: 1.6e-2, 1.0e-1 and 8.3e-2; twice the
 * worst.
 */
export const BF16_TOLERANCE = 2e-1;

export interface ReferenceStep {
  max_abs_logit: number;
  logprobs: number[];
}
export interface ReferencePrompt {
  text: string;
  prompt_ids: number[];
  generated_ids: number[];
  steps: ReferenceStep[];
  matches_cpu_expected: boolean;
}
export interface References {
  device: string;
  device_name: string;
  torch: string;
  transformers: string;
  steps_recorded: number;
  fixtures: Record<string, { eos_token_id: number; max_new_tokens: number; prompts: ReferencePrompt[] }>;
}

export function readReferences(): References {
  return JSON.parse(readFileSync(referencesPath, 'utf8')) as References;
}

export interface LogprobComparison {
  /** Steps compared: those whose context (prompt plus tokens so far) equals transformers' greedy path. */
  steps: number;
  /** The largest |difference| / max|logit| seen, and where. */
  worst: { ratio: number; step: number; tokenId: number; ours: number; reference: number; scale: number };
}

/**
 * Compares torch-gen's log-probabilities of a greedy run (the chosen token and its top alternatives at each
 * step) with transformers' float32 distribution of the same step. A step is comparable only while the run
 * follows transformers' greedy path, since after a different token the contexts differ.
 */
export function compareLogprobs(ours: TokenLogprob[], reference: ReferencePrompt): LogprobComparison {
  const worst = { ratio: 0, step: -1, tokenId: -1, ours: 0, reference: 0, scale: 0 };
  let steps = 0;
  for (let i = 0; i < Math.min(ours.length, reference.steps.length); i++) {
    if (i > 0 && ours[i - 1]!.tokenId !== reference.generated_ids[i - 1]) break;
    const step = reference.steps[i]!;
    const scale = Math.max(step.max_abs_logit, 1e-6);
    for (const alt of [ours[i]!, ...ours[i]!.topLogprobs]) {
      const expected = step.logprobs[alt.tokenId]!;
      // NaN or infinity is the worst error there is (a comparison with NaN would silently pass).
      const ratio = Number.isFinite(alt.logprob) ? Math.abs(alt.logprob - expected) / scale : Infinity;
      if (ratio > worst.ratio) Object.assign(worst, { ratio, step: i, tokenId: alt.tokenId, ours: alt.logprob, reference: expected, scale });
    }
    steps++;
  }
  return { steps, worst };
}

/** The worst comparison in words (JSON would print NaN and Infinity as null). */
export function describeWorst({ worst }: LogprobComparison): string {
  return `|difference| / scale ${worst.ratio.toPrecision(3)} at step ${worst.step}, token ${worst.tokenId}: ` +
    `torch-gen ${worst.ours}, transformers ${worst.reference}, scale ${worst.scale}`;
}
