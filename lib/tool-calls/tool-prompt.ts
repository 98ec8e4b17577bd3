/**
 * Tools for a chat template that does not render them: a system message describes the functions and asks
 * for calls in Hermes' `<tool_call>` form (which formats/hermes.ts then reads), and earlier calls and
 * their results are written into plain messages the template can show.
 */
import type { ChatMessage, TemplateMessage } from '../chat-messages.js';
import type { ToolDefinition } from './tools.js';

/** The system text that lists `tools` and says how to call one. */
export function toolDescription(tools: readonly ToolDefinition[]): string {
  const lines = tools.map((tool) => JSON.stringify(tool.function));
  return [
    'You may call the following functions, given here as JSON Schema, one per line:',
    ...lines,
    'To call a function, reply with <tool_call>{"name": "<function name>", "arguments": <JSON object of the arguments>}</tool_call>.',
    'Call only when a function is needed; otherwise answer in text.',
  ].join('\n');
}

/** `messages` with the tool description added to their system message (a new first one when they have none). */
export function withToolDescription(messages: readonly ChatMessage[], tools: readonly ToolDefinition[]): ChatMessage[] {
  const description = toolDescription(tools);
  const [first, ...rest] = messages;
  if (first?.role === 'system' && typeof first.content === 'string') {
    return [{ ...first, content: `${first.content}\n\n${description}` }, ...rest];
  }
  return [{ role: 'system', content: description }, ...messages];
}

/**
 * Earlier calls and results as text, from checked messages: an assistant's calls become `<tool_call>`
 * lines of its content, and a tool result a user message in `<tool_response>` tags (a user turn keeps
 * templates that insist on alternating roles content).
 */
export function toolHistoryAsText(messages: readonly TemplateMessage[]): ChatMessage[] {
  return messages.map(({ role, content, tool_calls: calls }) => {
    if (calls && calls.length > 0) {
      const lines = calls.map((call) => `<tool_call>${JSON.stringify({ name: call.function.name, arguments: call.function.arguments })}</tool_call>`);
      return { role, content: [content, ...lines].filter((part) => part !== '').join('\n') };
    }
    if (role === 'tool') return { role: 'user', content: `<tool_response>\n${content}\n</tool_response>` };
    return { role, content };
  });
}
