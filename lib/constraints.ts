/**
 * Compiles a model's constraints (the responseFormat option) with the grammar engine, off the JavaScript
 * thread, and keeps the last ones compiled: a service sends the same schema again and again. A schema the
 * engine refuses is narrowed down to the part it refuses, so that the error names its path.
 */
import { ResponseFormatError, type TorchGenError } from './errors.js';
import type { NativeConstraint, NativeModel } from './native.js';
import type { JsonSchema, ResolvedResponseFormat } from './response-format.js';

/** Compiled constraints kept per model; a compiled one costs memory in the engine (its lexer's tables). */
const CACHE_SIZE = 32;
/** Compilations spent locating a refused schema's part; past it the deepest part found so far is named. */
const LOCATE_BUDGET = 64;

/** Keywords whose value is one subschema, a map of subschemas, or a list of them (JSON Schema 2020-12). */
const ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'additionalItems', 'unevaluatedItems', 'unevaluatedProperties'];
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const LIST = ['anyOf', 'allOf', 'oneOf', 'prefixItems'];

type Compile = (kind: ResolvedResponseFormat['kind'], source: string) => Promise<NativeConstraint>;

/**
 * The subschemas of `schema` with their JSON pointer steps (`/properties/age`). Boolean ones are left out:
 * `false` alone is unsatisfiable (`additionalProperties: false` is not the part at fault), `true` never fails.
 */
function children(schema: JsonSchema): [string, JsonSchema][] {
  if (typeof schema !== 'object') return [];
  const found: [string, JsonSchema][] = [];
  const isSchema = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value);
  const step = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
  for (const key of ONE) if (isSchema(schema[key])) found.push([`/${key}`, schema[key]]);
  for (const key of LIST) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((item, i) => isSchema(item) && found.push([`/${key}/${i}`, item]));
  }
  for (const key of MAP) {
    const map = schema[key];
    if (isSchema(map)) {
      for (const [name, item] of Object.entries(map)) if (isSchema(item)) found.push([`/${key}/${step(name)}`, item]);
    }
  }
  return found;
}

export class ConstraintCompiler {
  readonly #native: NativeModel;
  readonly #cache = new Map<string, Promise<NativeConstraint>>();

  constructor(native: NativeModel) {
    this.#native = native;
  }

  /** The compiled constraint; rejects with ResponseFormatError when the engine refuses it. */
  compile(format: ResolvedResponseFormat): Promise<NativeConstraint> {
    const key = `${format.kind}\0${format.source}`;
    const cached = this.#cache.get(key);
    if (cached) {
      // Most recently used last: Map keeps insertion order, so the first key is the one to evict.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const compiling = this.#compile(format);
    this.#cache.set(key, compiling);
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
    compiling.catch(() => this.#cache.delete(key));
    return compiling;
  }

  async #compile(format: ResolvedResponseFormat): Promise<NativeConstraint> {
    const compile: Compile = (kind, source) => this.#native.compileConstraint(kind, source);
    try {
      return await compile(format.kind, format.source);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'ERR_INVALID_ARGUMENT') throw error;
      const engineMessage = (error as Error).message;
      if (format.kind !== 'json_schema' || format.schema === undefined) {
        const what = format.kind === 'regex' ? 'pattern' : 'grammar';
        // llama.cpp's GBNF (`rule ::= ...`) is the grammar users most often bring; say which syntax this is.
        const hint = format.kind === 'lark' && /::=/.test(format.source) ? ' (this looks like GBNF; the grammar is Lark, as llguidance reads it: `rule: ...`)' : '';
        throw new ResponseFormatError(`the grammar engine cannot compile this ${what}: ${engineMessage}${hint}`, '', engineMessage, { cause: error });
      }
      const path = await locate(format.schema, compile);
      const where = path === '' ? 'the schema' : `the schema at ${path}`;
      throw new ResponseFormatError(`the grammar engine cannot compile ${where}: ${engineMessage}`, path, engineMessage, { cause: error });
    }
  }
}

/**
 * The JSON pointer of the deepest subschema that the engine refuses on its own: each subschema is compiled
 * alone (with the root's `$defs` and `definitions`, so that its references resolve) until none of a failing
 * one's subschemas fails. '' when the failure is the combination at the root.
 */
async function locate(root: JsonSchema, compile: Compile): Promise<string> {
  const defs = typeof root === 'object' ? { $defs: root.$defs, definitions: root.definitions } : {};
  let budget = LOCATE_BUDGET;
  const fails = async (schema: JsonSchema): Promise<boolean> => {
    budget -= 1;
    const alone = typeof schema === 'object' ? { ...defs, ...schema } : schema;
    try {
      await compile('json_schema', JSON.stringify(alone));
      return false;
    } catch (error) {
      return (error as TorchGenError | { code?: unknown }).code === 'ERR_INVALID_ARGUMENT';
    }
  };
  let path = '';
  let node = root;
  descend: while (budget > 0) {
    for (const [step, child] of children(node)) {
      if (budget <= 0) break descend;
      if (await fails(child)) {
        path += step;
        node = child;
        continue descend;
      }
    }
    break;
  }
  return path;
}
