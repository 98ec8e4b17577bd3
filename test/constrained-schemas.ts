// JSON schemas of the kinds a backend asks a model for (issue 19): nested objects, arrays with bounds, enums,
// integers with ranges, strings with patterns, optional properties, anyOf; each with the request a user would
// write beside it. The data is JSON (test/constrained-schemas.json) so that bench/constrained.mjs, plain
// JavaScript, times the compilation of the same schemas.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonSchema } from '../lib/response-format.js';

export interface SchemaCase {
  name: string;
  request: string;
  schema: Exclude<JsonSchema, boolean>;
}

export const SCHEMA_CASES: SchemaCase[] = JSON.parse(readFileSync(join(import.meta.dirname, 'constrained-schemas.json'), 'utf8')) as SchemaCase[];
