import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runtimeInfo } from '@org/torch-gen';
// @ts-expect-error: a plain .mjs script without types
import { gypAddon } from '../../scripts/build-native.mjs';
import { runNode } from '../child-process.js';
import { fixture, readExpected } from '../helpers.js';

const root = join(import.meta.dirname, '..', '..');

// cmake-js is the default build; binding.gyp must build the same sources into an addon that works too.
test('the node-gyp build of the same sources generates the same greedy tokens', { timeout: 600_000 }, async () => {
  // A build of minutes, in a child process: the test worker's event loop stays free (see child-process.ts).
  const build = await runNode([join(root, 'scripts', 'build-native.mjs'), '--gyp', '--if-needed'], { cwd: root });
  expect(build.code, build.stderr).toBe(0);
  const prompt = readExpected('gpt2-logits').prompts[0]!;
  const script = `
    import { loadModel, runtimeInfo } from '@org/torch-gen';
    const model = await loadModel(${JSON.stringify(fixture('gpt2-logits'))}, { device: 'cpu' });
    const ids = [];
    for await (const chunk of model.generate(${JSON.stringify(prompt.text)}, { maxTokens: 32 })) ids.push(...chunk.tokenIds);
    await model.dispose();
    console.log(JSON.stringify({ addon: runtimeInfo().addonPath, grammarEngine: runtimeInfo().grammarEngine, ids }));`;
  const run = await runNode(['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, TORCH_GEN_ADDON: gypAddon as string } });
  expect(run.code, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { addon: string; grammarEngine: string | null; ids: number[] };
  expect(result.addon).toBe(gypAddon);
  // The grammar engine (constrained decoding) is linked by both builds, or by neither (no cargo).
  expect(result.grammarEngine).toBe(runtimeInfo().grammarEngine);
  expect(result.ids).toEqual(prompt.generated_ids);
});
