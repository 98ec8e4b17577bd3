import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { buildWithNodeGyp, gypAddon, isStale } from '../../scripts/build-native.mjs';
import { fixture, readExpected } from '../helpers.js';

// cmake-js is the default build; binding.gyp must build the same sources into an addon that works too.
test('the node-gyp build of the same sources generates the same greedy tokens', { timeout: 600_000 }, () => {
  if (isStale(gypAddon)) buildWithNodeGyp();
  const prompt = readExpected('gpt2-logits').prompts[0]!;
  const script = `
    import { loadModel, runtimeInfo } from '@org/torch-gen';
    const model = await loadModel(${JSON.stringify(fixture('gpt2-logits'))}, { device: 'cpu' });
    const ids = [];
    for await (const chunk of model.generate(${JSON.stringify(prompt.text)}, { maxTokens: 32 })) ids.push(...chunk.tokenIds);
    await model.dispose();
    console.log(JSON.stringify({ addon: runtimeInfo().addonPath, ids }));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, TORCH_GEN_ADDON: gypAddon as string },
    encoding: 'utf8',
  });
  const result = JSON.parse(output.trim().split('\n').pop() as string) as { addon: string; ids: number[] };
  expect(result.addon).toBe(gypAddon);
  expect(result.ids).toEqual(prompt.generated_ids);
});
