/**
 * OpenAI's function-calling shapes (tools, toolChoice, tool calls) and their validation. Every check names
 * the option and, inside it, the path of the bad part: `tools[1].function.name: expected ...`.
 */
import { OptionError } from '../errors.js';
import { expectedText, optionSpec } from '../option-table.js';
import { describeValue as describe } from '../options.js';

/** A function the model may call, in OpenAI's shape. */
export interface ToolDefinition {
  type: 'function';
  function: {
    /** 1 to 64 letters, digits, underscores or dashes. */
    name: string;
    description?: string;
    /** The arguments' JSON Schema (an object schema). Default: an object with no properties. */
    parameters?: Record<string, unknown>;
    /** Accepted for OpenAI compatibility; the arguments of a constrained call always match `parameters`. */
    strict?: boolean;
  };
}

/**
 * Whether and which function the model calls: `'auto'` lets it choose (a call is read from its own
 * tool-call format), `'none'` forbids calls (the tools are not shown to it), `'required'` makes it call one
 * or more, and `{ type: 'function', function: { name } }` makes it call that one.
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

/** A call the model made: its arguments are a JSON string, as OpenAI's. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** chat()'s and streamChat()'s options besides generate()'s. */
export interface ToolOptions {
  /**
   * Functions the model may call (OpenAI's function definitions). The model's chat template shows them
   * to the model where it supports tools; otherwise a system message describes them. Up to 128.
   * @example { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object',
   *   properties: { city: { type: 'string' } }, required: ['city'] } } }] }
   */
  tools?: readonly ToolDefinition[];
  /**
   * `'auto'` (the default with tools), `'none'`, `'required'`, or a named function. With `'required'` or
   * a named function the output is constrained to a call whose arguments match the function's parameters
   * (this needs the grammar engine, and cannot be combined with responseFormat); `'auto'` reads calls out of
   * the model's own tool-call format; `'none'` does not show the tools to the model.
   * @example { toolChoice: { type: 'function', function: { name: 'get_weather' } } }
   */
  toolChoice?: ToolChoice;
  /**
   * Whether a reply may make several calls. Default true; false constrains `'required'` to one call, and
   * keeps only the first call of an `'auto'` reply.
   */
  parallelToolCalls?: boolean;
}

/** What a chat request does with its tools, every field concrete. */
export interface ResolvedTools {
  tools: ToolDefinition[];
  /** The named function's definition for a named choice. */
  choice: 'auto' | 'none' | 'required' | { name: string; tool: ToolDefinition };
  parallel: boolean;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
// The option table's `tools` row says the same bound.
const MAX_TOOLS = 128;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function toolError(label: string, expected: string, value: unknown): OptionError {
  return new OptionError('tools', `expected ${expected}, received ${describe(value)}`, { label });
}

function checkTool(raw: unknown, index: number): ToolDefinition {
  const at = `tools[${index}]`;
  if (!isObject(raw)) throw toolError(at, "{ type: 'function', function: { name, description?, parameters? } }", raw);
  if (raw.type !== 'function') throw toolError(`${at}.type`, "'function'", raw.type);
  const fn = raw.function;
  if (!isObject(fn)) throw toolError(`${at}.function`, '{ name, description?, parameters? }', fn);
  if (typeof fn.name !== 'string' || !NAME.test(fn.name)) {
    throw toolError(`${at}.function.name`, 'a name of 1 to 64 letters, digits, underscores or dashes', fn.name);
  }
  const description = fn.description ?? undefined;
  if (description !== undefined && typeof description !== 'string') throw toolError(`${at}.function.description`, 'a string', description);
  const parameters = fn.parameters ?? { type: 'object', properties: {} };
  if (!isObject(parameters)) throw toolError(`${at}.function.parameters`, 'a JSON Schema object', parameters);
  if (parameters.type !== undefined && parameters.type !== 'object') {
    throw toolError(`${at}.function.parameters.type`, "'object' (a function's arguments are an object)", parameters.type);
  }
  const strict = fn.strict ?? undefined;
  if (strict !== undefined && typeof strict !== 'boolean') throw toolError(`${at}.function.strict`, 'a boolean', strict);
  // In OpenAI's order (name, description, parameters), as templates and descriptions show it.
  const checked: ToolDefinition['function'] = {
    name: fn.name,
    ...(description === undefined ? {} : { description }),
    parameters: { type: 'object', ...parameters },
    ...(strict === undefined ? {} : { strict }),
  };
  return { type: 'function', function: checked };
}

/** The choice's shape: one of the three words, or the name of a function. */
function choiceShape(raw: unknown): 'auto' | 'none' | 'required' | { name: string } {
  if (raw === 'auto' || raw === 'none' || raw === 'required') return raw;
  if (!isObject(raw) || raw.type !== 'function' || !isObject(raw.function) || typeof raw.function.name !== 'string') {
    throw new OptionError('toolChoice', `expected ${expectedText(optionSpec('toolChoice'))}, received ${describe(raw)}`);
  }
  return { name: raw.function.name };
}

function checkChoice(raw: unknown, tools: ToolDefinition[]): ResolvedTools['choice'] {
  const choice = choiceShape(raw);
  if (typeof choice === 'string') return choice;
  const tool = tools.find((t) => t.function.name === choice.name);
  if (!tool) {
    const known = tools.map((t) => t.function.name).join(', ');
    throw new OptionError('toolChoice', `names the function ${JSON.stringify(choice.name)}, which is not among tools (${known})`);
  }
  return { name: choice.name, tool };
}

/**
 * Checks tools, toolChoice and parallelToolCalls (absent or null means unset). Undefined when the request
 * has no tools: then toolChoice must be unset too (or 'none').
 */
export function resolveTools(options: { tools?: unknown; toolChoice?: unknown; parallelToolCalls?: unknown }): ResolvedTools | undefined {
  const rawTools = options.tools ?? undefined;
  const rawChoice = options.toolChoice ?? undefined;
  const parallel = options.parallelToolCalls ?? true;
  if (typeof parallel !== 'boolean') {
    throw new OptionError('parallelToolCalls', `expected ${expectedText(optionSpec('parallelToolCalls'))}, received ${describe(parallel)}`);
  }
  if (rawTools === undefined || (Array.isArray(rawTools) && rawTools.length === 0)) {
    if (rawChoice !== undefined && choiceShape(rawChoice) !== 'none') {
      throw new OptionError('toolChoice', `needs tools to choose from; pass tools, or leave it out (received ${describe(rawChoice)})`);
    }
    return undefined;
  }
  if (!Array.isArray(rawTools) || rawTools.length > MAX_TOOLS) {
    throw toolError('tools', expectedText(optionSpec('tools')), rawTools);
  }
  const tools = rawTools.map(checkTool);
  const seen = new Set<string>();
  tools.forEach((tool, index) => {
    if (seen.has(tool.function.name)) {
      throw new OptionError('tools', `${JSON.stringify(tool.function.name)} is defined twice; function names must be unique`, {
        label: `tools[${index}].function.name`,
      });
    }
    seen.add(tool.function.name);
  });
  return { tools, choice: checkChoice(rawChoice ?? 'auto', tools), parallel };
}
