/**
 * Llama 3.1 and 3.2's JSON calls: the whole reply is `{"name": ..., "parameters": {...}}` (several joined
 * by semicolons), optionally after the `<|python_tag|>` token.
 */
import { callOf, jsonSequence, openAiCallId, type ParsedCall, type ToolCallFormat } from '../tool-call-format.js';

const PYTHON_TAG = '<|python_tag|>';

export const llama3Json: ToolCallFormat = {
  name: 'llama3-json',
  detect: (source) => source.includes(PYTHON_TAG) || (source.includes('ipython') && source.includes('"parameters"')),
  scan(text) {
    const start = text.trimStart();
    if (start.startsWith('{') || start.startsWith(PYTHON_TAG)) return { safe: 0, call: true };
    // Still blank, or the tag's first characters: the reply may yet be a call.
    if (start === '' || PYTHON_TAG.startsWith(start)) return { safe: 0, call: false };
    return { safe: text.length, call: false };
  },
  parse(text) {
    let body = text.trim();
    if (body.startsWith(PYTHON_TAG)) body = body.slice(PYTHON_TAG.length);
    const values = jsonSequence(body);
    if (!values || values.length === 0) return undefined;
    const calls = values.map(callOf);
    if (calls.some((call) => call === undefined)) return undefined;
    return { content: '', calls: calls as ParsedCall[] };
  },
  newId: openAiCallId,
};
