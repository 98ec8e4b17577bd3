import { expect, test } from 'vitest';
import { loadModel, type Model } from '@org/torch-gen';
import { fixture, measureEventLoopLag, readExpected } from '../helpers.js';

// Model work runs on the engine thread (generation) and the libuv pool (loading); the JavaScript thread
// only moves token ids. A blocked loop shows as a delay as long as a forward pass or a model load.
const LAG_LIMIT_MS = 50;

test('the event loop keeps running while a model loads and generates', async () => {
  const expected = readExpected('gpt2-logits');
  const load = await measureEventLoopLag(() => loadModel(fixture('gpt2-logits'), { device: 'cpu' }));
  const model: Model = load.result;
  const generate = await measureEventLoopLag(async () => {
    let tokens = 0;
    await Promise.all(
      expected.prompts.map(async (prompt) => {
        for await (const chunk of model.generate(prompt.text, { maxTokens: 32 })) tokens += chunk.tokenIds.length;
      }),
    );
    return tokens;
  });
  await model.dispose();
  expect(generate.result).toBe(expected.prompts.length * 32);
  expect(load.p99Ms).toBeLessThan(LAG_LIMIT_MS);
  expect(generate.p99Ms).toBeLessThan(LAG_LIMIT_MS);
  console.log(`event-loop lag p99: load ${load.p99Ms.toFixed(2)} ms, generate ${generate.p99Ms.toFixed(2)} ms (max ${generate.maxMs.toFixed(2)} ms)`);
});
