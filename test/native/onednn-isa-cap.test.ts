// oneDNN's instruction-set cap (native/core/onednn_isa.h, decided by onednnIsaCapFor in lib/options.ts): the
// first CPU load of a process fixes it, AVX2 for a float32 TorchScript model on AMD Zen 4, and later loads
// adapt to it. Each case runs in a process of its own, with ONEDNN_VERBOSE=1 so that oneDNN itself says which
// instruction set it runs ("cpu,isa:..."), printed when it first runs a primitive.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runtimeInfo } from '@org/torch-gen';
import { isAmdZen4 } from '../../lib/cpu.js';
import { runNode } from '../child-process.js';
import { fixture } from '../helpers.js';

const root = join(import.meta.dirname, '..', '..');
const zen4 = process.platform === 'linux' && isAmdZen4(readFileSync('/proc/cpuinfo', 'utf8'));
const { cpuFeatures } = runtimeInfo();
const nativeBfloat16 = cpuFeatures.avx512Bf16 || cpuFeatures.amx;

interface Step { dir: string; options: Record<string, unknown> }
interface Outcome {
  dtype?: string;
  tokens?: number;
  error?: string;
  message?: string;
  cap: { value: string | null; source: string | null };
}

/** Loads each model in turn in a new process (each generates two tokens), with `env` added to this one's. */
async function inProcess(steps: Step[], env: Record<string, string> = {}) {
  const script = `
    import { loadModel, runtimeInfo } from '@org/torch-gen';
    const warnings = [];
    process.on('warning', (warning) => warnings.push({ code: warning.code, message: warning.message }));
    const outcomes = [];
    for (const { dir, options } of ${JSON.stringify(steps)}) {
      try {
        const model = await loadModel(dir, options);
        const { tokenIds } = await model.complete([1, 2, 3], { maxTokens: 2, temperature: 0 });
        outcomes.push({ dtype: model.info.dtype, tokens: tokenIds.length, cap: runtimeInfo().backend.onednnIsaCap });
        await model.dispose();
      } catch (error) {
        outcomes.push({ error: error.name, message: error.message, cap: runtimeInfo().backend.onednnIsaCap });
      }
    }
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    console.log('RESULT ' + JSON.stringify({ outcomes, warnings }));`;
  const base = { ...process.env };
  delete base.ONEDNN_MAX_CPU_ISA;
  delete base.DNNL_MAX_CPU_ISA;
  const run = await runNode(['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...base, ONEDNN_VERBOSE: '1', ...env },
    timeoutMs: 120_000,
  });
  expect(run.code, run.stderr).toBe(0);
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  const result = JSON.parse(line!.slice('RESULT '.length)) as { outcomes: Outcome[]; warnings: { code: string; message: string }[] };
  // oneDNN's own word: e.g. "onednn_verbose,v1,info,cpu,isa:Intel AVX2".
  const isa = /^onednn_verbose,.*,info,cpu,isa:(.*)$/m.exec(run.stdout)?.[1] ?? null;
  return { ...result, isa };
}

const float32: Step = { dir: fixture('llama-kv'), options: { device: 'cpu', dtype: 'float32', threads: 1 } };
const auto: Step = { dir: fixture('llama-kv'), options: { device: 'cpu', dtype: 'auto', threads: 1 } };
const bfloat16: Step = { dir: fixture('llama-kv'), options: { device: 'cpu', dtype: 'bfloat16', threads: 1 } };
const aoti: Step = { dir: fixture('llama-kv-aoti'), options: { device: 'cpu', threads: 1 } };
const int8: Step = { dir: fixture('llama-kv-int8'), options: { device: 'cpu', threads: 1 } };

describe("oneDNN's instruction-set cap", () => {
  test('a float32 TorchScript model loaded first caps it at AVX2 on AMD Zen 4 (elsewhere: none); later loads adapt', async () => {
    const { outcomes, warnings, isa } = await inProcess([float32, auto, bfloat16, aoti]);
    const [first, second, third, fourth] = outcomes;
    expect(first).toMatchObject({ dtype: 'float32', tokens: 2 });
    if (zen4) {
      expect(first!.cap).toEqual({ value: 'AVX2', source: 'torch-gen' });
      expect(isa).toBe('Intel AVX2');
      // 'auto' no longer picks bfloat16, which has no kernels below AVX-512; asked for, it runs and warns why.
      expect(second).toMatchObject({ dtype: 'float32', tokens: 2 });
      expect(third).toMatchObject({ dtype: 'bfloat16', tokens: 2 });
      const slow = warnings.find((w) => w.code === 'TORCH_GEN_SLOW_BFLOAT16');
      expect(slow?.message).toMatch(/at most AVX2 in this process, as torch-gen set it for the float32 model loaded first .*ONEDNN_MAX_CPU_ISA=ALL/);
      // A package's weights are laid out for the AVX-512 kernels: refused, saying how to keep them.
      expect(fourth).toMatchObject({ error: 'ModelLoadError' });
      expect(fourth!.message).toMatch(/torch-gen capped oneDNN at AVX2 in this process .*ONEDNN_MAX_CPU_ISA=ALL, or load this package first/);
    } else {
      expect(first!.cap).toEqual({ value: null, source: null });
      expect(isa).not.toBe('Intel AVX2');
      expect(second).toMatchObject({ dtype: nativeBfloat16 ? 'bfloat16' : 'float32', tokens: 2 });
      expect(fourth).toMatchObject({ dtype: 'float32', tokens: 2 });
    }
  }, 180_000);

  test('ONEDNN_MAX_CPU_ISA in the environment wins: ALL keeps every instruction set, and a package loads after float32', async () => {
    const { outcomes, isa } = await inProcess([float32, aoti], { ONEDNN_MAX_CPU_ISA: 'all' });
    expect(outcomes.map((o) => o.cap)).toEqual([{ value: 'ALL', source: 'environment' }, { value: 'ALL', source: 'environment' }]);
    expect(outcomes.map((o) => o.dtype)).toEqual(['float32', 'float32']);
    expect(isa).not.toBe('Intel AVX2');
  }, 180_000);

  // The fixture's package was compiled on this machine: for AVX-512 where it has it.
  test.runIf(cpuFeatures.avx512)('ONEDNN_MAX_CPU_ISA=AVX2 in the environment: an AVX-512 package is refused, saying which variable to unset', async () => {
    const { outcomes, isa } = await inProcess([aoti, float32], { ONEDNN_MAX_CPU_ISA: 'AVX2' });
    expect(outcomes[0]).toMatchObject({ error: 'ModelLoadError', cap: { value: 'AVX2', source: 'environment' } });
    expect(outcomes[0]!.message).toMatch(/laid out for oneDNN's AVX-512 kernels, .*ONEDNN_MAX_CPU_ISA=AVX2 turns them off in this process: unset ONEDNN_MAX_CPU_ISA/);
    expect(outcomes[1]).toMatchObject({ dtype: 'float32', tokens: 2 });
    expect(isa).toBe('Intel AVX2');
  }, 180_000);

  test('a bfloat16 or int8 model loaded first leaves it uncapped for the float32 models after it', async () => {
    const first = nativeBfloat16 ? auto : int8;
    const { outcomes, isa } = await inProcess([first, float32]);
    if (nativeBfloat16) expect(outcomes[0]).toMatchObject({ dtype: 'bfloat16', tokens: 2 });
    expect(outcomes[1]).toMatchObject({ dtype: 'float32', tokens: 2, cap: { value: null, source: null } });
    if (cpuFeatures.avx512) expect(isa).toMatch(/AVX-512/);
  }, 180_000);
});
