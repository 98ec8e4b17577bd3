/**
 * The JSON schemas that constrain a reply to tool calls (toolChoice 'required' or a named function), and
 * the way back from a path inside them to the tool whose parameters it is in.
 */
import type { JsonSchema } from '../response-format.js';
import type { ToolDefinition } from './tools.js';

function callSchema(tool: ToolDefinition): JsonSchema {
  return {
    type: 'object',
    properties: { name: { enum: [tool.function.name] }, arguments: tool.function.parameters ?? { type: 'object' } },
    required: ['name', 'arguments'],
    additionalProperties: false,
  };
}

/**
 * `{ "name": ..., "arguments": {...} }` of one of `tools` (the name first, so a stream knows the function
 * before its arguments); with `parallel`, a non-empty array of them.
 */
export function requiredCallsSchema(tools: readonly ToolDefinition[], parallel: boolean): JsonSchema {
  const call = tools.length === 1 ? callSchema(tools[0] as ToolDefinition) : { anyOf: tools.map(callSchema) };
  return parallel ? { type: 'array', items: call, minItems: 1 } : call;
}

/**
 * The option label of a JSON pointer into requiredCallsSchema()'s schema: `tools[2].function.parameters/
 * properties/city` for a part of a tool's parameters, undefined for a pointer outside them.
 */
export function requiredCallsLabel(pointer: string, tools: readonly ToolDefinition[]): string | undefined {
  const match = /^(?:\/items)?(?:\/anyOf\/(\d+))?\/properties\/arguments(\/.*)?$/.exec(pointer);
  if (!match) return undefined;
  const index = match[1] === undefined ? 0 : Number(match[1]);
  if (index >= tools.length || (match[1] === undefined && tools.length !== 1)) return undefined;
  return `tools[${index}].function.parameters${match[2] ?? ''}`;
}
