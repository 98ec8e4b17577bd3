/**
 * Reads `{"name": ..., "arguments": {...}}` calls (one, or an array of them) as their JSON streams in, so
 * that a call's arguments can be handed on while they are written: the reply of toolChoice 'required',
 * which the grammar engine keeps well formed (requiredCallsSchema() puts the name first).
 */
import type { ToolCallDelta } from './tool-call-reader.js';

/** A JSON string literal's value; undefined for a malformed one (a bad escape), which names nothing. */
function stringValue(literal: string): string | undefined {
  try {
    return JSON.parse(literal) as string;
  } catch {
    return undefined;
  }
}

export class CallJsonScanner {
  readonly #callDepth: number;
  readonly #newId: () => string;
  #text = '';
  #at = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  // The string that closed last at the call's depth, and where it began: a key, or the name's value.
  #stringStart = -1;
  #lastString: string | undefined;
  #key: string | undefined;
  // The call being read.
  #name: string | undefined;
  #argsStart = -1;
  #argsEnd = -1;
  #shownUpTo = -1;
  #index = 0;
  #headerSent = false;

  /** `array`: the reply is an array of calls (parallel calls). */
  constructor(array: boolean, newId: () => string) {
    this.#callDepth = array ? 2 : 1;
    this.#newId = newId;
  }

  /** Calls handed on so far (their first delta sent). */
  get calls(): number {
    return this.#index + (this.#headerSent ? 1 : 0);
  }

  /** The deltas that `text`, the reply's next piece, completes. */
  push(text: string): ToolCallDelta[] {
    this.#text += text;
    const deltas: ToolCallDelta[] = [];
    for (; this.#at < this.#text.length; this.#at++) this.#step(this.#text[this.#at] as string, deltas);
    this.#showArguments(this.#argsEnd >= 0 ? this.#argsEnd : this.#text.length, deltas);
    return deltas;
  }

  #step(c: string, deltas: ToolCallDelta[]): void {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (c === '\\') this.#escaped = true;
      else if (c === '"') {
        this.#inString = false;
        if (this.#depth === this.#callDepth) this.#lastString = stringValue(this.#text.slice(this.#stringStart, this.#at + 1));
      }
      return;
    }
    const atCall = this.#depth === this.#callDepth;
    if (c === '"') {
      this.#inString = true;
      this.#stringStart = this.#at;
    } else if (c === ':' && atCall) {
      this.#key = this.#lastString;
    } else if ((c === ',' || c === '}') && atCall && this.#key === 'name' && this.#name === undefined) {
      this.#name = this.#lastString;
    }
    if (atCall && this.#key === 'arguments' && this.#argsStart < 0 && c !== ':' && !/\s/.test(c)) this.#argsStart = this.#at;
    if (c === '{' || c === '[') this.#depth++;
    if (c === '}' || c === ']') {
      this.#depth--;
      // The arguments' object closed: back at the call's depth.
      if (this.#depth === this.#callDepth && this.#argsStart >= 0 && this.#argsEnd < 0) this.#argsEnd = this.#at + 1;
      if (this.#depth === this.#callDepth - 1) this.#endCall(deltas);
    }
  }

  /** Sends the call's first delta once its name and the start of its arguments are known, then its arguments up to `end`. */
  #showArguments(end: number, deltas: ToolCallDelta[]): void {
    if (this.#name === undefined || this.#argsStart < 0) return;
    if (!this.#headerSent) {
      deltas.push({ index: this.#index, id: this.#newId(), type: 'function', function: { name: this.#name, arguments: '' } });
      this.#headerSent = true;
      this.#shownUpTo = this.#argsStart;
    }
    if (end > this.#shownUpTo) {
      deltas.push({ index: this.#index, function: { arguments: this.#text.slice(this.#shownUpTo, end) } });
      this.#shownUpTo = end;
    }
  }

  #endCall(deltas: ToolCallDelta[]): void {
    this.#showArguments(this.#argsEnd, deltas);
    if (this.#headerSent) this.#index++;
    this.#name = undefined;
    this.#key = undefined;
    this.#argsStart = -1;
    this.#argsEnd = -1;
    this.#headerSent = false;
  }
}
