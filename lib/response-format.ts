/**
 * The `responseFormat` option: its types, and its check into what the grammar engine compiles. The shape
 * is checked here, synchronously; whether the engine can compile a schema, a pattern or a grammar is the
 * engine's to say (lib/constraints.ts), off the JavaScript thread.
 */
import { OptionError } from './errors.js';
import { expectedText, optionSpec } from './option-table.js';

/** A JSON schema (draft 2020-12 as the grammar engine reads it), or `true` for any JSON value. */
export type JsonSchema = boolean | { [keyword: string]: unknown };

/**
 * What the generated text must be:
 * - `{ type: 'json_object' }`: a JSON object, any;
 * - `{ type: 'json_schema', schema }`: JSON that validates against `schema`;
 * - `{ type: 'regex', pattern }`: a whole match of the regular expression (Rust `regex` syntax, no lookaround
 *   or backreferences);
 * - `{ type: 'grammar', grammar }`: a sentence of a Lark grammar as llguidance reads it (rules `start: ...`,
 *   terminals `NAME: /regex/`, and `%json { schema }` inside it).
 * @example { type: 'json_schema', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }
 */
export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: JsonSchema }
  | { type: 'regex'; pattern: string }
  | { type: 'grammar'; grammar: string };

/** The engine's kinds of constraint (llguidance's names). */
export type ConstraintKind = 'json_schema' | 'regex' | 'lark';

/** What the grammar engine compiles: the kind and the source text, and the schema it came from (to locate errors). */
export interface ResolvedResponseFormat {
  kind: ConstraintKind;
  source: string;
  schema?: JsonSchema;
}

/**
 * The JSON compiler's options for schemas that do not set their own (`x-guidance`): fixed separators, no
 * free whitespace. With free whitespace a sampled model may pad the JSON with newlines until maxTokens cuts
 * it; `, ` and `: ` are what models write most.
 */
const JSON_LAYOUT = { whitespace_flexible: false, item_separator: ', ', key_separator: ': ' };

const FIELDS: Record<ResponseFormat['type'], readonly string[]> = {
  json_object: ['type'],
  json_schema: ['type', 'schema'],
  regex: ['type', 'pattern'],
  grammar: ['type', 'grammar'],
};

function received(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}

function wrongShape(value: unknown): OptionError {
  return new OptionError('responseFormat', `expected ${expectedText(optionSpec('responseFormat'))}, received ${received(value)}`);
}

function field(name: string, expected: string, value: unknown): OptionError {
  return new OptionError('responseFormat', `expected ${expected}, received ${received(value)}`, { label: `responseFormat.${name}` });
}

/** `schema` as the engine's JSON text, with our layout unless the schema names its own. */
function schemaSource(schema: JsonSchema): string {
  let text: string | undefined;
  try {
    const withLayout = typeof schema === 'object' && !('x-guidance' in schema) ? { ...schema, 'x-guidance': JSON_LAYOUT } : schema;
    text = JSON.stringify(withLayout);
  } catch (error) {
    throw new OptionError('responseFormat', `expected a JSON schema that JSON.stringify can write, but it threw: ${(error as Error).message}`, {
      label: 'responseFormat.schema',
      cause: error,
    });
  }
  return text;
}

/** Checks the option's shape; undefined or null means no constraint. Throws OptionError. */
export function resolveResponseFormat(value: unknown): ResolvedResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw wrongShape(value);
  const format = value as Record<string, unknown>;
  const type = format.type;
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
    throw field('type', "'json_object', 'json_schema', 'regex' or 'grammar'", type);
  }
  const fields = FIELDS[type as ResponseFormat['type']];
  const extra = Object.keys(format).find((key) => !fields.includes(key));
  if (extra !== undefined) {
    throw new OptionError('responseFormat', `unknown field \`${extra}\` for type '${type}'; it takes ${fields.map((f) => `\`${f}\``).join(', ')}`);
  }
  switch (type as ResponseFormat['type']) {
    case 'json_object':
      return { kind: 'json_schema', source: schemaSource({ type: 'object' }), schema: { type: 'object' } };
    case 'json_schema': {
      const schema = format.schema;
      if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
        throw field('schema', 'a JSON schema (an object or a boolean)', schema);
      }
      return { kind: 'json_schema', source: schemaSource(schema as JsonSchema), schema: schema as JsonSchema };
    }
    case 'regex':
      if (typeof format.pattern !== 'string' || format.pattern.length === 0) throw field('pattern', 'a non-empty string', format.pattern);
      return { kind: 'regex', source: format.pattern };
    case 'grammar':
      if (typeof format.grammar !== 'string' || format.grammar.trim().length === 0) throw field('grammar', 'a non-empty string', format.grammar);
      return { kind: 'lark', source: format.grammar };
  }
}
