import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runNode } from '../child-process.js';
import { fixture } from '../helpers.js';

const root = resolve(import.meta.dirname, '..', '..');
function runScript(body: string, flags: string[] = []) {
  const script = `import { loadModel } from '@org/torch-gen';\nimport { Worker } from 'node:worker_threads';\n${body}`;
  return runNode([...flags, '--input-type=module', '-e', script], { cwd: root, timeoutMs: 60_000 });
}
const model = JSON.stringify(fixture('llama-kv'));

describe('process and thread lifetimes', () => {
  test('process.exit() while a request is generating exits cleanly (the engine is stopped first)', async () => {
    const result = await runScript(`
      const model = await loadModel(${model}, { device: 'cpu' });
      for await (const chunk of model.generate('Once upon a time', { maxTokens: 100000 })) { console.log('token'); process.exit(0); }`);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('token\n');
  });

  test('an idle model that is never disposed does not keep the process alive', async () => {
    const result = await runScript(`
      const model = await loadModel(${model}, { device: 'cpu' });
      const { text } = await model.complete('Hello', { maxTokens: 4 });
      console.log('done', typeof text);`);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('done string\n');
  });

  test('a model garbage-collected without dispose() is freed with a warning', async () => {
    const result = await runScript(`
      let model = await loadModel(${model}, { device: 'cpu' });
      await model.complete('Hello', { maxTokens: 2 });
      model = null;
      for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((resolve) => setTimeout(resolve, 20)); }
      console.log('collected');`, ['--expose-gc']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('collected\n');
    expect(result.stderr).toContain('(torch-gen) warning: a model was garbage-collected without dispose()');
  });

  test('a disposed model is collected silently', async () => {
    const result = await runScript(`
      let model = await loadModel(${model}, { device: 'cpu' });
      await model.dispose();
      model = null;
      for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((resolve) => setTimeout(resolve, 20)); }
      console.log('collected');`, ['--expose-gc']);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('warning');
  });

  test('a pending generation keeps the process alive until it finishes', async () => {
    const result = await runScript(`
      const model = await loadModel(${model}, { device: 'cpu' });
      model.complete('Hello', { maxTokens: 40 }).then((r) => console.log('finished', r.tokenIds.length > 0));`);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('finished true\n');
  });

  test('terminating a worker thread that is generating leaves the main thread running', async () => {
    const result = await runScript(`
      const worker = new Worker(\`
        const { loadModel } = await import('@org/torch-gen');
        const { parentPort } = await import('node:worker_threads');
        const model = await loadModel(${model.replace(/"/g, "'")}, { device: 'cpu' });
        for await (const chunk of model.generate('Once upon a time', { maxTokens: 100000 })) parentPort.postMessage('token');
      \`, { eval: true, type: 'module' });
      await new Promise((resolve) => worker.once('message', resolve));
      await worker.terminate();
      const model = await loadModel(${model}, { device: 'cpu' });
      const { tokenIds } = await model.complete('Hello', { maxTokens: 4 });
      console.log('main alive', tokenIds.length);`);
    expect(result.signal).toBeNull();
    expect(result.stderr).not.toMatch(/Segmentation|Aborted|terminate called/);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('main alive 4\n');
  });
});
