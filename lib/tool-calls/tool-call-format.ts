/**
 * The tool-call formats models are trained to write, one small parser per format (formats/), and the
 * choice of one from the chat template that defines it. A format says where a call begins in a reply (so
 * a stream can hold the call back from the content) and reads the calls out of the reply.
 */
import { randomBytes } from 'node:crypto';
import { isObject } from './tools.js';

/** A call as a model wrote it: the function's name and its arguments object. */
export interface ParsedCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface ParsedReply {
  /** The reply without its calls. */
  content: string;
  calls: ParsedCall[];
}

export interface ToolCallFormat {
  /** `hermes`, `llama3-json`, `mistral`. */
  readonly name: string;
  /** Whether `templateSource` (a chat template) writes and asks for this format. */
  detect(templateSource: string): boolean;
  /**
   * Where a call could begin in `text`, the reply so far: the text before `safe` is content whatever
   * follows; `call` is true when a call has begun at `safe` (false: the rest may yet become one).
   */
  scan(text: string): { safe: number; call: boolean };
  /** The calls in a whole reply, or undefined when it holds none that is well formed. */
  parse(text: string): ParsedReply | undefined;
  /** A new call id, in the form the format's template accepts. */
  newId(): string;
}

/** OpenAI's form of a call id: `call_` and 24 characters. */
export function openAiCallId(): string {
  return `call_${randomBytes(18).toString('base64url')}`;
}

/** The length of the longest end of `text` that begins `marker` (a marker cut by the stream). */
function partialMarker(text: string, marker: string): number {
  for (let length = Math.min(marker.length - 1, text.length); length > 0; length--) {
    if (marker.startsWith(text.slice(text.length - length))) return length;
  }
  return 0;
}

/** `end`, moved back over the blanks before it. */
function beforeBlanks(text: string, end: number): number {
  while (end > 0 && /\s/.test(text[end - 1] as string)) end--;
  return end;
}

/**
 * ToolCallFormat.scan() of a format whose calls begin with `marker`, anywhere in the reply. Blanks are
 * held back too: those before a call belong to neither the content nor the call.
 */
export function scanForMarker(text: string, marker: string): { safe: number; call: boolean } {
  const at = text.indexOf(marker);
  if (at >= 0) return { safe: beforeBlanks(text, at), call: true };
  return { safe: beforeBlanks(text, text.length - partialMarker(text, marker)), call: false };
}

/** `{ name, arguments }` (or Llama's `parameters`), the arguments an object or a JSON string of one. */
export function callOf(value: unknown): ParsedCall | undefined {
  if (!isObject(value) || typeof value.name !== 'string') return undefined;
  let args: unknown = value.arguments ?? value.parameters ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args) as unknown;
    } catch {
      return undefined;
    }
  }
  return isObject(args) ? { name: value.name, arguments: args } : undefined;
}

/**
 * The JSON values written one after another in `text` (separated by blanks, commas or semicolons, as
 * models separate several calls), or undefined when anything else is there.
 */
export function jsonSequence(text: string): unknown[] | undefined {
  const values: unknown[] = [];
  let at = 0;
  while (true) {
    while (at < text.length && /[\s,;]/.test(text[at] as string)) at++;
    if (at >= text.length) return values;
    const end = jsonValueEnd(text, at);
    if (end === undefined) return undefined;
    try {
      values.push(JSON.parse(text.slice(at, end)));
    } catch {
      return undefined;
    }
    at = end;
  }
}

/** The end of the object or array that opens at `start`, by its brackets outside strings. */
function jsonValueEnd(text: string, start: number): number | undefined {
  if (text[start] !== '{' && text[start] !== '[') return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}
