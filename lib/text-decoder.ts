/**
 * Turns a growing list of token ids into text deltas that are always valid text.
 *
 * Decoding token by token breaks characters that span several tokens (byte-level BPE splits a Chinese
 * character or an emoji into byte tokens) and drops the spaces that SentencePiece decoders add only in
 * context. So each step decodes a small window of recent tokens twice, with and without the new ones, and
 * emits the difference only when it does not end in U+FFFD (an incomplete character); the tokens are
 * held back until the character completes. The window keeps the cost per token constant.
 */
import type { Tokenizer } from './tokenizer.js';

// Tokens of context decoded before the new ones, so that context-dependent decoding is right.
const CONTEXT_TOKENS = 4;
const REPLACEMENT = '\uFFFD';

export class IncrementalTextDecoder {
  readonly #tokenizer: Tokenizer;
  readonly #ids: number[];
  #prefixOffset: number;
  #readOffset: number;

  /** `contextIds` are tokens already shown (the prompt's tail); they are never emitted. */
  constructor(tokenizer: Tokenizer, contextIds: readonly number[]) {
    this.#tokenizer = tokenizer;
    this.#ids = contextIds.slice(-CONTEXT_TOKENS);
    this.#prefixOffset = 0;
    this.#readOffset = this.#ids.length;
  }

  /** Adds tokens and returns the text that is now complete ('' while a character is unfinished). */
  push(ids: readonly number[]): string {
    this.#ids.push(...ids);
    return this.#emit(false);
  }

  /** Returns whatever is held back, even an incomplete character (the full decode contains it too). */
  flush(): string {
    return this.#emit(true);
  }

  #emit(final: boolean): string {
    if (this.#readOffset >= this.#ids.length) return '';
    const before = this.#tokenizer.decode(this.#ids.slice(this.#prefixOffset, this.#readOffset));
    const after = this.#tokenizer.decode(this.#ids.slice(this.#prefixOffset));
    if (!final && (after.length <= before.length || after.endsWith(REPLACEMENT))) return '';
    const delta = after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after));
    this.#prefixOffset = this.#readOffset;
    this.#readOffset = this.#ids.length;
    // Drop ids that can no longer matter, keeping the window small.
    if (this.#prefixOffset > CONTEXT_TOKENS) {
      const drop = this.#prefixOffset - CONTEXT_TOKENS;
      this.#ids.splice(0, drop);
      this.#prefixOffset -= drop;
      this.#readOffset -= drop;
    }
    return delta;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
