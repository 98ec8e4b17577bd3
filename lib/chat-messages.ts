/**
 * Chat messages: their checks, and their form for a chat template. Tool calls go into a template with
 * their arguments as objects (templates write them with `tojson`, as transformers' do), tool results with
 * the name of the function they answer.
 */
import { OptionError } from './errors.js';
import { describeValue } from './options.js';
import { isObject, type ToolCall } from './tool-calls/tools.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /** The text; null (or '') on an assistant message that only calls tools. */
  content: string | null;
  /**
   * The calls an assistant message made (a previous reply's `message.tool_calls`). Transformers' shape, with
   * no id and the arguments as an object, is taken too.
   */
  tool_calls?: readonly ToolCall[];
  /** On a `tool` message: the id of the call whose result it is (optional, as in transformers' messages). */
  tool_call_id?: string;
}

/** A message as a chat template reads it. */
export interface TemplateMessage {
  role: string;
  content: string;
  tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: Record<string, unknown> } }[];
  tool_call_id?: string;
  /** On a tool result: the function it answers. */
  name?: string;
}

function messageError(at: string, expected: string, value: unknown): OptionError {
  return new OptionError('messages', `expected ${expected}, received ${describeValue(value)}`, { label: at });
}

/**
 * A call as a template reads it. OpenAI's shape (an id, arguments as a JSON string) and transformers' (no id,
 * arguments as an object) are both taken.
 */
function templateCall(call: unknown, at: string): NonNullable<TemplateMessage['tool_calls']>[number] {
  if (!isObject(call) || (call.id !== undefined && typeof call.id !== 'string') || !isObject(call.function) || typeof call.function.name !== 'string') {
    throw messageError(at, "{ id, type: 'function', function: { name, arguments } }", call);
  }
  const args = call.function.arguments ?? {};
  let parsed: unknown = args;
  if (typeof args === 'string') {
    try {
      parsed = JSON.parse(args);
    } catch {
      // reported below
    }
  }
  if (!isObject(parsed)) throw messageError(`${at}.function.arguments`, 'a JSON string of an object (or the object)', args);
  const out: NonNullable<TemplateMessage['tool_calls']>[number] = { type: 'function', function: { name: call.function.name, arguments: parsed } };
  if (call.id !== undefined) out.id = call.id;
  return out;
}

/**
 * Checks `messages` and puts them in a template's form. A tool result's `tool_call_id`, when it has one
 * (OpenAI's messages do; transformers' need not), must answer a call made by an earlier assistant message.
 */
export function templateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new OptionError('messages', 'expected a non-empty array of { role, content }');
  }
  const calls = new Map<string, string>();
  return messages.map((message: unknown, index) => {
    const at = `messages[${index}]`;
    if (!isObject(message) || typeof message.role !== 'string') throw messageError(at, '{ role: string, content: string }', message);
    const toolCalls = message.tool_calls ?? undefined;
    if (toolCalls !== undefined && (message.role !== 'assistant' || !Array.isArray(toolCalls))) {
      throw messageError(`${at}.tool_calls`, 'an array of tool calls, on an assistant message', toolCalls);
    }
    const content = message.content ?? (toolCalls ? '' : message.content);
    if (typeof content !== 'string') throw messageError(`${at}.content`, 'a string', content);
    const out: TemplateMessage = { role: message.role, content };
    if (toolCalls) {
      out.tool_calls = (toolCalls as unknown[]).map((call, i) => templateCall(call, `${at}.tool_calls[${i}]`));
      for (const call of out.tool_calls) if (call.id !== undefined) calls.set(call.id, call.function.name);
    }
    const id = message.tool_call_id ?? undefined;
    if (message.role === 'tool' && id !== undefined) {
      if (typeof id !== 'string') throw messageError(`${at}.tool_call_id`, 'the id of the call this result answers', id);
      const name = calls.get(id);
      if (name === undefined) {
        throw new OptionError('messages', `answers the call ${JSON.stringify(id)}, which no earlier assistant message made`, {
          label: `${at}.tool_call_id`,
        });
      }
      out.tool_call_id = id;
      out.name = name;
    }
    return out;
  });
}
