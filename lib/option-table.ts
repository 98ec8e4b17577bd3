/**
 * What each public option is, in one table: its name, type, range, default and meaning. Validation
 * (options.ts), the CLI's flags and help (lib/cli), the HTTP request fields (lib/server/request-options.ts),
 * the addon's bounds (native/addon/option_bounds.h, generated from here by test/unit/option-table.test.ts)
 * and the README's option tables come from it or are checked against it by a test.
 */

/**
 * Where an option is given: to loadModel(), to generate() and its siblings, or to chat() and streamChat()
 * only (besides generate()'s).
 */
export type OptionScope = 'load' | 'generate' | 'chat';

/** How an option's value is checked; the bounds of a number are inclusive unless `minExclusive`. */
export type OptionType =
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; minExclusive?: boolean }
  | { kind: 'boolean'; spelled: 'true or false' | 'a boolean' }
  | { kind: 'choice'; choices: readonly string[] }
  /** A value checked by its own rule in options.ts; `expected` says what it takes. */
  | { kind: 'special'; expected: string };

export interface CliFlag {
  /** Without the dashes: `top-p`. A boolean option's flag sets it to `false` when `negated`. */
  name: string;
  short?: string;
  /** The value's placeholder in the help: `P`. */
  arg?: string;
  negated?: true;
  repeatable?: true;
  /** The help line's text when the option's own `doc` does not fit the flag (a negated flag). */
  help?: string;
}

/**
 * A flag that reads its option's value from a file: `--json-schema FILE`. `reads` says what the file holds
 * and so which value the option gets (lib/cli/option-flags.ts turns the file's text into it).
 */
export interface FileFlag {
  name: string;
  arg: 'FILE';
  reads: 'json-schema' | 'grammar';
  help: string;
}

export interface OptionSpec {
  name: string;
  scope: OptionScope;
  type: OptionType;
  /** A bound that depends on the model (maxContext, stopTokenIds), shown instead of the static range. */
  dynamicRange?: string;
  /** The default as a value, when it is one fixed value. */
  default?: number | boolean | string;
  /** The default as the README and the CLI help say it. */
  defaultDoc: string;
  /** What it does, in a phrase: the README's "meaning" column and the CLI help line. */
  doc: string;
  /** Its command-line flag, if the CLI takes it. */
  cli?: CliFlag;
  /** Flags that read the value from a file (one option may have several, each for a kind of file). */
  fileFlags?: readonly FileFlag[];
  /** The OpenAI request field that carries it, if the server takes it. */
  http?: string;
  /** The addon reads it under this name and checks the same bounds (option_bounds.h). */
  native?: true;
}

/** 2^31 - 1: "no bound" for an integer the addon keeps in an int32 or compares with one. */
export const INT32_MAX = 2 ** 31 - 1;

export const OPTIONS = [
  {
    name: 'device',
    scope: 'load',
    type: { kind: 'special', expected: "'auto', 'cpu', 'cuda' or 'cuda:N'" },
    default: 'auto',
    defaultDoc: "`'auto'`: the first GPU when CUDA is available, else the CPU",
    doc: 'where the model runs',
    cli: { name: 'device', arg: 'DEVICE' },
  },
  {
    name: 'dtype',
    scope: 'load',
    type: { kind: 'choice', choices: ['float32', 'float16', 'bfloat16', 'auto'] },
    defaultDoc:
      "`float16` on CUDA, `float32` on the CPU; `'auto'`: `bfloat16` on a CPU with bfloat16 instructions " +
      '(`runtimeInfo().cpuFeatures`), else `float32`',
    doc: "the weights' and activations' dtype",
    cli: { name: 'dtype', arg: 'DTYPE' },
  },
  {
    name: 'maxBatch',
    scope: 'load',
    type: { kind: 'integer', min: 1, max: 1024 },
    default: 4,
    defaultDoc: '4, fewer if the cache would not fit in a quarter of the free memory',
    doc: 'requests decoded together (KV-cache slots, allocated once); `logits` models run one at a time',
    cli: { name: 'max-batch', arg: 'N' },
    native: true,
  },
  {
    name: 'maxContext',
    scope: 'load',
    type: { kind: 'integer', min: 2, max: INT32_MAX },
    dynamicRange: "[2, the model's max_context]",
    defaultDoc: "the model's, at most 2048",
    doc: 'tokens per request (prompt + generated); memory grows with maxBatch x maxContext',
    cli: { name: 'max-context', arg: 'N' },
  },
  {
    name: 'maxQueue',
    scope: 'load',
    type: { kind: 'integer', min: 0, max: 2 ** 31 },
    default: 1024,
    defaultDoc: '1024',
    doc: 'requests that may wait for a slot; beyond it `QueueFullError`',
    cli: { name: 'max-queue', arg: 'N' },
    native: true,
  },
  {
    name: 'prefillChunk',
    scope: 'load',
    type: { kind: 'integer', min: 1, max: 65536 },
    default: 256,
    defaultDoc: '256',
    doc: 'prompt tokens per engine step (long prompts are prefilled in chunks)',
    cli: { name: 'prefill-chunk', arg: 'N' },
    native: true,
  },
  {
    name: 'prefixCacheMiB',
    scope: 'load',
    type: { kind: 'integer', min: 0, max: 2 ** 20 },
    defaultDoc: "the KV cache's size (the keys and values of maxBatch x maxContext tokens), in MiB",
    doc:
      'MiB kept for the keys and values of prompt prefixes, reused by later requests that begin with them ' +
      '(least recently used evicted; `stats().prefixCache`); 0 turns prefix caching off',
    cli: { name: 'prefix-cache-mib', arg: 'N' },
    native: true,
  },
  {
    name: 'cudaGraphs',
    scope: 'load',
    type: { kind: 'boolean', spelled: 'true or false' },
    default: true,
    defaultDoc: '`true`',
    doc:
      'on CUDA, replay the decode step as CUDA graphs (one per batch size and cache-length bucket); a capture ' +
      'that fails turns them off and `stats().cudaGraphsOff` says why',
    cli: { name: 'no-cuda-graphs', negated: true, help: 'run the decode step eagerly on CUDA instead of replaying CUDA graphs' },
  },
  {
    name: 'cudaGraphBatchSizes',
    scope: 'load',
    type: { kind: 'special', expected: 'a non-empty array of distinct integers in [1, maxBatch]' },
    dynamicRange: '[1, maxBatch]',
    defaultDoc: 'the powers of two below maxBatch, and maxBatch',
    doc:
      'on CUDA, the batch sizes whose decode-step graphs are captured at load (every cache-length bucket); a ' +
      'batch of another size replays the next larger one',
  },
  {
    name: 'threads',
    scope: 'load',
    type: { kind: 'integer', min: 1, max: 1024 },
    defaultDoc: '`OMP_NUM_THREADS` when the environment sets it, else the physical cores this process may use',
    doc: "CPU threads for this model's forward passes (`info.threads`); several models with more than one thread in one process slow each other (docs/architecture.md, Threads)",
    cli: { name: 'threads', arg: 'N' },
    native: true,
  },
  {
    name: 'optimizeGraph',
    scope: 'load',
    type: { kind: 'boolean', spelled: 'true or false' },
    default: true,
    defaultDoc: '`true`',
    doc:
      'on the CPU, freeze the module at load and run its linear layers in oneDNN on weights laid out once ' +
      '(`info.graphOptimization` says what was done); off only to diagnose',
  },
  {
    name: 'maxTokens',
    scope: 'generate',
    type: { kind: 'integer', min: 1, max: 2 ** 20 },
    default: 256,
    defaultDoc: '256',
    doc: 'most tokens to generate',
    cli: { name: 'max-tokens', short: 'n', arg: 'N' },
    http: 'max_tokens',
    native: true,
  },
  {
    name: 'temperature',
    scope: 'generate',
    type: { kind: 'number', min: 0, max: 100 },
    defaultDoc: "the model's `generation_config.json` when it samples, else 0",
    doc: '0 is greedy; higher flattens the distribution',
    cli: { name: 'temperature', short: 't', arg: 'T' },
    http: 'temperature',
    native: true,
  },
  {
    name: 'topK',
    scope: 'generate',
    type: { kind: 'integer', min: 0, max: INT32_MAX },
    defaultDoc: "0: off (or the model's)",
    doc: 'keep the k most likely tokens',
    cli: { name: 'top-k', arg: 'K' },
    http: 'top_k',
    native: true,
  },
  {
    name: 'topP',
    scope: 'generate',
    type: { kind: 'number', min: 0, max: 1, minExclusive: true },
    defaultDoc: "1: off (or the model's)",
    doc: 'keep the smallest set of tokens whose probability reaches p (after topK)',
    cli: { name: 'top-p', arg: 'P' },
    http: 'top_p',
    native: true,
  },
  {
    name: 'minP',
    scope: 'generate',
    type: { kind: 'number', min: 0, max: 1 },
    defaultDoc: "0: off (or the model's)",
    doc: 'drop tokens less likely than minP x the most likely one',
    cli: { name: 'min-p', arg: 'P' },
    http: 'min_p',
    native: true,
  },
  {
    name: 'repetitionPenalty',
    scope: 'generate',
    type: { kind: 'number', min: 0, max: 100, minExclusive: true },
    defaultDoc: "1: off (or the model's)",
    doc: "Hugging Face's repetition penalty, over prompt and output",
    cli: { name: 'repetition-penalty', arg: 'R' },
    http: 'repetition_penalty',
    native: true,
  },
  {
    name: 'presencePenalty',
    scope: 'generate',
    type: { kind: 'number', min: -2, max: 2 },
    default: 0,
    defaultDoc: '0: off',
    doc: "OpenAI's presence penalty, over the output",
    cli: { name: 'presence-penalty', arg: 'P' },
    http: 'presence_penalty',
    native: true,
  },
  {
    name: 'frequencyPenalty',
    scope: 'generate',
    type: { kind: 'number', min: -2, max: 2 },
    default: 0,
    defaultDoc: '0: off',
    doc: "OpenAI's frequency penalty, over the output",
    cli: { name: 'frequency-penalty', arg: 'P' },
    http: 'frequency_penalty',
    native: true,
  },
  {
    name: 'seed',
    scope: 'generate',
    type: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
    defaultDoc: 'random',
    doc: "the request's random stream: same seed, same tokens, alone or batched with others",
    cli: { name: 'seed', arg: 'S' },
    http: 'seed',
    native: true,
  },
  {
    name: 'stop',
    scope: 'generate',
    type: { kind: 'special', expected: 'a non-empty string or an array of at most 16 non-empty strings' },
    defaultDoc: 'none',
    doc: 'strings that end the text; never emitted, even across tokens',
    cli: { name: 'stop', arg: 'TEXT', repeatable: true },
    http: 'stop',
  },
  {
    name: 'stopTokenIds',
    scope: 'generate',
    type: { kind: 'special', expected: "an array of token ids in [0, the model's vocab_size)" },
    defaultDoc: 'none',
    doc: "token ids that end the text, besides the model's end-of-sequence ids",
  },
  {
    name: 'logprobs',
    scope: 'generate',
    type: { kind: 'integer', min: 0, max: 20 },
    default: 0,
    defaultDoc: '0: off',
    doc: "report each token's log-probability and the n most likely alternatives",
    cli: { name: 'logprobs', arg: 'N' },
    http: 'logprobs',
    native: true,
  },
  {
    name: 'responseFormat',
    scope: 'generate',
    type: {
      kind: 'special',
      expected:
        "{ type: 'json_object' }, { type: 'json_schema', schema }, { type: 'regex', pattern } or { type: 'grammar', grammar }",
    },
    defaultDoc: 'none: free text',
    doc:
      'constrain the output to JSON (any object, or matching a JSON schema), a regular expression or a Lark grammar ' +
      '(needs the grammar engine: `runtimeInfo().grammarEngine`)',
    fileFlags: [
      { name: 'json-schema', arg: 'FILE', reads: 'json-schema', help: 'constrain the output to JSON matching the JSON schema in FILE' },
      { name: 'grammar', arg: 'FILE', reads: 'grammar', help: 'constrain the output to the Lark grammar in FILE (llguidance syntax)' },
    ],
    // OpenAI's shape (json_schema: { name, schema, strict }), read by lib/server/response-format-field.ts.
    http: 'response_format',
  },
  {
    name: 'truncate',
    scope: 'generate',
    type: { kind: 'boolean', spelled: 'a boolean' },
    default: false,
    defaultDoc: '`false`: a prompt that does not fit is a `ContextLengthError`',
    doc: 'drop tokens from the prompt\'s start so that prompt and maxTokens fit (keeping at least half the context)',
  },
  {
    name: 'signal',
    scope: 'generate',
    type: { kind: 'special', expected: 'an AbortSignal' },
    defaultDoc: 'none',
    doc: 'an `AbortSignal`: ends the request within one step',
  },
  {
    name: 'tools',
    scope: 'chat',
    type: { kind: 'special', expected: "an array of at most 128 { type: 'function', function: { name, description?, parameters? } }" },
    defaultDoc: 'none',
    doc: "functions the model may call (OpenAI's definitions); the chat template shows them, or a system message describes them",
    http: 'tools',
  },
  {
    name: 'toolChoice',
    scope: 'chat',
    type: { kind: 'special', expected: "'auto', 'none', 'required' or { type: 'function', function: { name } }" },
    defaultDoc: "`'auto'` with tools",
    doc: "`'required'` and a named function constrain the reply to a call whose arguments match its parameters; `'auto'` reads calls from the model's own format",
    http: 'tool_choice',
  },
  {
    name: 'parallelToolCalls',
    scope: 'chat',
    type: { kind: 'boolean', spelled: 'a boolean' },
    default: true,
    defaultDoc: '`true`',
    doc: "whether a reply may make several calls: false constrains `'required'` to one, and keeps an `'auto'` reply's first",
    http: 'parallel_tool_calls',
  },
] as const satisfies readonly OptionSpec[];

export type OptionName = (typeof OPTIONS)[number]['name'];

const byName = new Map<string, OptionSpec>(OPTIONS.map((spec) => [spec.name, spec]));

export function optionSpec(name: OptionName): OptionSpec {
  return byName.get(name) as OptionSpec;
}

/** The spec of a name that may not be an option at all (`prompt`, `--port`). */
export function findOption(name: string): OptionSpec | undefined {
  return byName.get(name);
}

export function optionsOf(scope: OptionScope): OptionSpec[] {
  return OPTIONS.filter((spec) => spec.scope === scope);
}

/** `2^53` for the largest safe integer's successor, else the number. */
function bound(value: number): string {
  return value === Number.MAX_SAFE_INTEGER + 1 ? '2^53' : String(value);
}

/** The range as the messages and docs write it: `[1, 1024]`, `(0, 1]`, `>= 0`, `[0, 2^53)`. */
export function rangeText(spec: OptionSpec): string | undefined {
  if (spec.dynamicRange !== undefined) return spec.dynamicRange;
  const type = spec.type;
  if (type.kind === 'integer') {
    if (type.max === Number.MAX_SAFE_INTEGER) return `[${type.min}, ${bound(type.max + 1)})`;
    if (type.max >= INT32_MAX) return `>= ${type.min}`;
    return `[${type.min}, ${type.max}]`;
  }
  if (type.kind === 'number') return `${type.minExclusive ? '(' : '['}${type.min}, ${type.max}]`;
  return undefined;
}

/** What an OptionError says the option expects: `an integer in [1, 1024]`, `a number in (0, 1]`. */
export function expectedText(spec: OptionSpec): string {
  const type = spec.type;
  const range = rangeText(spec);
  switch (type.kind) {
    case 'integer':
      return range?.startsWith('>=') ? `an integer ${range}` : `an integer in ${range}`;
    case 'number':
      return `a number in ${range}`;
    case 'boolean':
      return type.spelled;
    case 'choice': {
      const quoted = type.choices.map((choice) => `'${choice}'`);
      return `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
    }
    case 'special':
      return type.expected;
  }
}
