// `torch-gen generate --json-schema FILE` and `--grammar FILE` on SmolLM2: the printed text validates, and a
// schema the engine refuses is one line naming responseFormat and the schema's path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, test } from 'vitest';
import { runtimeInfo } from '@org/torch-gen';
import { runNode } from '../child-process.js';
import { defaultModelDir } from '../helpers.js';

const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'torch-gen.js');
const cli = (...args: string[]) => runNode([bin, ...args], { timeoutMs: 180_000 });
const dir = mkdtempSync(join(tmpdir(), 'torch-gen-cli-format-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe.skipIf(runtimeInfo().grammarEngine === null)('torch-gen generate with a response format', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const common = ['-m', defaultModelDir, '--device', 'cpu', '-q', '--temperature', '1', '--seed', '3', '-n', '96'];

  test('--json-schema FILE: stdout is JSON that validates, and the summary says stop', async () => {
    const schema = {
      type: 'object',
      properties: { title: { type: 'string', maxLength: 30 }, year: { type: 'integer', minimum: 1900, maximum: 2030 } },
      required: ['title', 'year'],
      additionalProperties: false,
    };
    const { code, stdout, stderr } = await cli('generate', ...common, '--json-schema', file('movie.json', JSON.stringify(schema)), 'A movie as JSON:');
    expect(code, stderr).toBe(0);
    expect(new Ajv2020().validate(schema, JSON.parse(stdout))).toBe(true);
    expect(stderr).toMatch(/\[stop: \d+ prompt \+ \d+ generated tokens\]/);
  });

  test('--grammar FILE: stdout is a sentence of the grammar', async () => {
    const grammar = file('answer.lark', 'start: "Answer: " ("yes" | "no")\n');
    const { code, stdout } = await cli('generate', ...common, '--grammar', grammar, 'Is water wet?');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^Answer: (yes|no)$/);
  });

  test('a schema the engine refuses is one line naming responseFormat and the path', async () => {
    const schema = { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } };
    const { code, stderr } = await cli('generate', ...common, '--json-schema', file('bad.json', JSON.stringify(schema)), 'x');
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^torch-gen generate: responseFormat: the grammar engine cannot compile the schema at \/properties\/tags: Unimplemented keys: \["uniqueItems"\] \(ERR_INVALID_OPTION\)$/m);
  });
});
