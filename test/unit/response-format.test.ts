// The responseFormat option without the addon: its shape check, what the engine is asked to compile, the
// errors' classes, and the CLI's --json-schema / --grammar files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { generationOptions } from '../../lib/cli/generation-flags.js';
import { fromNativeError, GrammarUnavailableError, OptionError, ResponseFormatError } from '../../lib/errors.js';
import { resolveGenerateOptions } from '../../lib/options.js';
import { resolveResponseFormat } from '../../lib/response-format.js';

describe('responseFormat', () => {
  test('absent or null is free text', () => {
    expect(resolveResponseFormat(undefined)).toBeUndefined();
    expect(resolveResponseFormat(null)).toBeUndefined();
    expect(resolveGenerateOptions({}).responseFormat).toBeUndefined();
  });

  test('a schema is compiled with fixed separators unless it names its own layout', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    const resolved = resolveResponseFormat({ type: 'json_schema', schema })!;
    expect(resolved.kind).toBe('json_schema');
    expect(JSON.parse(resolved.source)).toEqual({ ...schema, 'x-guidance': { whitespace_flexible: false, item_separator: ', ', key_separator: ': ' } });
    expect(resolved.schema).toBe(schema);
    const own = { type: 'object', 'x-guidance': { whitespace_flexible: true } };
    expect(JSON.parse(resolveResponseFormat({ type: 'json_schema', schema: own })!.source)).toEqual(own);
    expect(resolveResponseFormat({ type: 'json_schema', schema: true })!.source).toBe('true');
  });

  test("json_object is the schema { type: 'object' }; regex and grammar pass their text", () => {
    expect(JSON.parse(resolveResponseFormat({ type: 'json_object' })!.source)).toMatchObject({ type: 'object' });
    expect(resolveResponseFormat({ type: 'regex', pattern: '[0-9]+' })).toEqual({ kind: 'regex', source: '[0-9]+' });
    expect(resolveResponseFormat({ type: 'grammar', grammar: 'start: "a"' })).toEqual({ kind: 'lark', source: 'start: "a"' });
  });

  test('a wrong shape is an OptionError about responseFormat, naming the field', () => {
    const error = (() => {
      try {
        resolveGenerateOptions({ responseFormat: { type: 'regex', pattern: 3 } });
      } catch (caught) {
        return caught as OptionError;
      }
    })();
    expect(error).toBeInstanceOf(OptionError);
    expect(error?.option).toBe('responseFormat');
    expect(error?.message).toBe('responseFormat.pattern: expected a non-empty string, received 3');
    expect(() => resolveResponseFormat([])).toThrow(/^responseFormat: expected .* received an array$/);
    expect(() => resolveResponseFormat({ type: 'grammar', grammar: '  ' })).toThrow('responseFormat.grammar: expected a non-empty string');
  });

  test("the addon's ERR_GRAMMAR_UNAVAILABLE is a GrammarUnavailableError", () => {
    const error = fromNativeError(Object.assign(new Error('no grammar engine'), { code: 'ERR_GRAMMAR_UNAVAILABLE' }));
    expect(error).toBeInstanceOf(GrammarUnavailableError);
    expect(error.code).toBe('ERR_GRAMMAR_UNAVAILABLE');
  });

  test('a ResponseFormatError renamed for the server keeps its path and the engine message', () => {
    const error = new ResponseFormatError('the grammar engine cannot compile the schema at /a: nope', '/a', 'nope');
    const renamed = error.renamed('response_format');
    expect(renamed).toBeInstanceOf(ResponseFormatError);
    expect(renamed.message).toBe('response_format: the grammar engine cannot compile the schema at /a: nope');
    expect(renamed).toMatchObject({ option: 'responseFormat', path: '/a', engineMessage: 'nope' });
  });
});

describe('CLI: --json-schema FILE and --grammar FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'torch-gen-format-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('read the file into responseFormat', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    expect(generationOptions({ 'json-schema': file('s.json', JSON.stringify(schema)) }).responseFormat).toEqual({ type: 'json_schema', schema });
    expect(generationOptions({ grammar: file('g.lark', 'start: "x"\n') }).responseFormat).toEqual({ type: 'grammar', grammar: 'start: "x"\n' });
  });

  test('a missing file, a file that is not JSON, both flags at once, a schema of the wrong type', () => {
    expect(() => generationOptions({ 'json-schema': join(dir, 'missing.json') })).toThrow(/^--json-schema: cannot read .*missing\.json: ENOENT/);
    expect(() => generationOptions({ 'json-schema': file('bad.json', '{ nope') })).toThrow(/^--json-schema: .*bad\.json is not JSON \(.*\); it should hold a JSON schema$/);
    const both = { 'json-schema': file('s2.json', '{}'), grammar: file('g2.lark', 'start: "x"') };
    expect(() => generationOptions(both)).toThrow('--json-schema: --json-schema and --grammar cannot be given together');
    expect(() => generationOptions({ 'json-schema': file('n.json', '3') })).toThrow('responseFormat.schema: expected a JSON schema (an object or a boolean), received 3');
  });
});
