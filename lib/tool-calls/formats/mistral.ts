/**
 * Mistral's format: `[TOOL_CALLS]` and a JSON array of `{"name": ..., "arguments": {...}}`. Its templates
 * accept only call ids of nine letters and digits.
 */
import { randomInt } from 'node:crypto';
import { callOf, jsonSequence, scanForMarker, type ParsedCall, type ToolCallFormat } from '../tool-call-format.js';

const MARKER = '[TOOL_CALLS]';
const ID_CHARACTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const mistral: ToolCallFormat = {
  name: 'mistral',
  detect: (source) => source.includes(MARKER),
  scan: (text) => scanForMarker(text, MARKER),
  parse(text) {
    const at = text.indexOf(MARKER);
    if (at < 0) return undefined;
    const values = jsonSequence(text.slice(at + MARKER.length));
    if (!values || values.length === 0) return undefined;
    const calls = values.flat().map(callOf);
    if (calls.length === 0 || calls.some((call) => call === undefined)) return undefined;
    return { content: text.slice(0, at).trim(), calls: calls as ParsedCall[] };
  },
  newId: () => Array.from({ length: 9 }, () => ID_CHARACTERS[randomInt(ID_CHARACTERS.length)]).join(''),
};
