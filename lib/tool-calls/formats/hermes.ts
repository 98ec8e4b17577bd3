/**
 * Hermes' format, which Qwen2.5 and Qwen3 use too: each call is `<tool_call>{"name": ..., "arguments":
 * {...}}</tool_call>`, anywhere in the reply, several in a row for parallel calls.
 */
import { callOf, openAiCallId, scanForMarker, type ParsedCall, type ToolCallFormat } from '../tool-call-format.js';

const OPEN = '<tool_call>';
// A reply cut off (or ended by the end-of-sequence token) inside its last call has no closing tag.
const CALL = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;

export const hermes: ToolCallFormat = {
  name: 'hermes',
  detect: (source) => source.includes(OPEN),
  scan: (text) => scanForMarker(text, OPEN),
  parse(text) {
    const calls: ParsedCall[] = [];
    for (const match of text.matchAll(CALL)) {
      let value: unknown;
      try {
        value = JSON.parse((match[1] as string).trim());
      } catch {
        return undefined;
      }
      const call = callOf(value);
      if (!call) return undefined;
      calls.push(call);
    }
    if (calls.length === 0) return undefined;
    return { content: text.replace(CALL, '').trim(), calls };
  },
  newId: openAiCallId,
};
