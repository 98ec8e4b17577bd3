/**
 * Reads tool calls out of a reply as it streams, and hands them on as OpenAI streams them: per call, a
 * first delta with its id, type and name, then deltas of its arguments. What is not a call is content.
 */
import { CallJsonScanner } from './call-json-scanner.js';
import type { ParsedCall, ToolCallFormat } from './tool-call-format.js';
import type { ToolCall } from './tools.js';

/** A piece of a streamed tool call, as OpenAI's `delta.tool_calls[]`. */
export interface ToolCallDelta {
  /** Which call of the reply it belongs to (0, 1, ...). */
  index: number;
  /** On a call's first delta. */
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

/**
 * How a reply holds its calls:
 * - `named`: constrained to the arguments of one function; the whole reply is the call's arguments.
 * - `required`: constrained to JSON of `{ name, arguments }` (an array of them when `parallel`).
 * - `auto`: the model's own format, read by `format`; the reply may be text, calls, or both (only its
 *   first call unless `parallel`).
 */
export type ToolCallMode =
  | { kind: 'named'; name: string }
  | { kind: 'required'; parallel: boolean }
  | { kind: 'auto'; format: ToolCallFormat; parallel: boolean };

export interface ReadPiece {
  /** Content to show now. */
  text: string;
  toolCalls: ToolCallDelta[];
}

export class ToolCallReader {
  readonly #mode: ToolCallMode;
  readonly #newId: () => string;
  // The reply so far, and how much of it went out as content.
  #reply = '';
  #shown = 0;
  #inCall = false;
  // `named`: the call's id, once its first delta went out.
  #namedId: string | undefined;
  // `required`: its calls, read as they stream.
  readonly #scanner: CallJsonScanner | undefined;
  #calls = 0;

  constructor(mode: ToolCallMode, newId: () => string) {
    this.#mode = mode;
    this.#newId = newId;
    if (mode.kind === 'required') this.#scanner = new CallJsonScanner(mode.parallel, newId);
  }

  /** The next piece of the reply's text. */
  push(text: string): ReadPiece {
    this.#reply += text;
    const mode = this.#mode;
    if (mode.kind === 'named') return { text: '', toolCalls: this.#namedDeltas(text) };
    if (mode.kind === 'required') return { text: '', toolCalls: (this.#scanner as CallJsonScanner).push(text) };
    if (this.#inCall) return { text: '', toolCalls: [] };
    const { safe, call } = mode.format.scan(this.#reply);
    const shown = this.#reply.slice(this.#shown, Math.max(this.#shown, safe));
    this.#shown = Math.max(this.#shown, safe);
    this.#inCall = call;
    return { text: shown, toolCalls: [] };
  }

  /** At the reply's end: what was held back, as content or as calls. */
  end(): ReadPiece {
    const mode = this.#mode;
    if (mode.kind === 'named') return { text: '', toolCalls: this.#namedId === undefined ? this.#namedDeltas('') : [] };
    // A reply that is not a well-formed call (cut by maxTokens, say) is returned as the text it is.
    if (mode.kind === 'required') return { text: this.called ? '' : this.#reply, toolCalls: [] };
    const rest = this.#reply.slice(this.#shown);
    this.#shown = this.#reply.length;
    const parsed = this.#inCall ? mode.format.parse(rest) : undefined;
    if (!parsed) return { text: rest, toolCalls: [] };
    const calls = mode.parallel ? parsed.calls : parsed.calls.slice(0, 1);
    return { text: parsed.content, toolCalls: calls.flatMap((call) => this.#wholeCall(call)) };
  }

  /** Whether a call was handed on. */
  get called(): boolean {
    return this.#calls > 0 || (this.#scanner?.calls ?? 0) > 0;
  }

  #namedDeltas(text: string): ToolCallDelta[] {
    if (this.#mode.kind !== 'named') return [];
    const deltas: ToolCallDelta[] = [];
    if (this.#namedId === undefined) {
      this.#namedId = this.#newId();
      this.#calls = 1;
      // As OpenAI's first delta of a call: its id, type and name, no arguments yet.
      deltas.push({ index: 0, id: this.#namedId, type: 'function', function: { name: this.#mode.name, arguments: '' } });
    }
    if (text !== '') deltas.push({ index: 0, function: { arguments: text } });
    return deltas;
  }

  #wholeCall(call: ParsedCall): ToolCallDelta[] {
    const index = this.#calls++;
    return [
      { index, id: this.#newId(), type: 'function', function: { name: call.name, arguments: '' } },
      { index, function: { arguments: JSON.stringify(call.arguments) } },
    ];
  }
}

/** The calls that `deltas` (in stream order) add up to. */
export function assembleToolCalls(deltas: readonly ToolCallDelta[]): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const delta of deltas) {
    if (delta.id !== undefined) {
      calls[delta.index] = { id: delta.id, type: 'function', function: { name: delta.function.name ?? '', arguments: delta.function.arguments } };
    } else {
      const call = calls[delta.index];
      if (call) call.function.arguments += delta.function.arguments;
    }
  }
  return calls.filter((call) => call !== undefined);
}
