/**
 * OpenAI's `response_format` field to the library's responseFormat option. `json_schema`'s `strict` is
 * accepted either way: the grammar engine always holds the output to the schema.
 */
import { describeValue } from '../options.js';
import type { ResponseFormat } from '../response-format.js';
import { isObject } from '../tool-calls/tools.js';
import { badRequest, type HttpError } from './openai-errors.js';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const EXPECTED = "{ type: 'text' }, { type: 'json_object' } or { type: 'json_schema', json_schema: { name, schema, description?, strict? } }";

function invalid(label: string, expected: string, value: unknown): HttpError {
  return badRequest('response_format', `${label}: expected ${expected}, received ${describeValue(value)}`);
}

/** The field's value (JSON null read as absent) as a responseFormat, or undefined for free text. */
export function responseFormatField(value: unknown): ResponseFormat | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid('response_format', EXPECTED, value);
  switch (value.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema':
      break;
    default:
      throw invalid('response_format.type', "'text', 'json_object' or 'json_schema'", value.type);
  }
  const spec = value.json_schema;
  if (!isObject(spec)) throw invalid('response_format.json_schema', '{ name, schema, description?, strict? }', spec);
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
    throw invalid('response_format.json_schema.name', 'a name of 1 to 64 letters, digits, underscores or dashes', spec.name);
  }
  const strict = spec.strict ?? undefined;
  if (strict !== undefined && typeof strict !== 'boolean') throw invalid('response_format.json_schema.strict', 'a boolean', strict);
  const description = spec.description ?? undefined;
  if (description !== undefined && typeof description !== 'string') {
    throw invalid('response_format.json_schema.description', 'a string', description);
  }
  if (!isObject(spec.schema)) throw invalid('response_format.json_schema.schema', 'a JSON schema object', spec.schema);
  return { type: 'json_schema', schema: spec.schema };
}
