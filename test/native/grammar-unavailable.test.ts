// An addon built without the grammar engine (no cargo at build time) still loads and generates, and refuses a
// constrained request with GrammarUnavailableError saying how to enable it. It needs that second build, which
// takes minutes, so the test runs where it exists, and always in CI (.ci/run builds it; CI=true):
//   TORCH_GEN_GRAMMAR=off TORCH_GEN_BUILD_DIR=build/no-grammar npm run build:native
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runNode } from '../child-process.js';
import { defaultModelDir } from '../helpers.js';

const root = join(import.meta.dirname, '..', '..');
const addon = join(root, 'build', 'no-grammar', 'Release', 'torch_gen.node');

test.skipIf(!existsSync(addon) && process.env.CI !== 'true')('an addon without the grammar engine generates, and refuses responseFormat with GrammarUnavailableError', async () => {
  const script = `
    import { loadModel, runtimeInfo, GrammarUnavailableError } from '@org/torch-gen';
    const model = await loadModel(${JSON.stringify(defaultModelDir)}, { device: 'cpu', maxBatch: 1, maxContext: 64 });
    const free = await model.complete('Hello', { maxTokens: 2 });
    let refusal;
    try { model.generate('x', { responseFormat: { type: 'json_object' } }); } catch (error) { refusal = error; }
    await model.dispose();
    console.log(JSON.stringify({ engine: runtimeInfo().grammarEngine, tokens: free.tokenIds.length,
      typed: refusal instanceof GrammarUnavailableError, code: refusal?.code, message: refusal?.message }));`;
  const run = await runNode(['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, TORCH_GEN_ADDON: addon } });
  expect(run.code, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string);
  expect(result).toMatchObject({ engine: null, tokens: 2, typed: true, code: 'ERR_GRAMMAR_UNAVAILABLE' });
  expect(result.message).toMatch(/Install Rust \(rustup\), then run `npm run build:native`/);
});
