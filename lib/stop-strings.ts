/**
 * Finds stop strings in streamed text. Text that might be the beginning of a stop string is held back
 * only as long as it still might: as soon as the next text rules the match out, it is released.
 */
export class StopStringMatcher {
  readonly #stops: readonly string[];
  #held = '';

  constructor(stops: readonly string[]) {
    this.#stops = stops;
  }

  /**
   * Adds text. Returns the text that is safe to emit, and `stopped` when a stop string appeared (the text
   * before it is emitted; it and everything after it are dropped).
   */
  push(text: string): { text: string; stopped: boolean } {
    if (this.#stops.length === 0) return { text, stopped: false };
    const buffer = this.#held + text;
    let first = -1;
    for (const stop of this.#stops) {
      const index = buffer.indexOf(stop);
      if (index !== -1 && (first === -1 || index < first)) first = index;
    }
    if (first !== -1) {
      this.#held = '';
      return { text: buffer.slice(0, first), stopped: true };
    }
    const keep = this.#partialMatchLength(buffer);
    this.#held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** The held-back text, at the end of generation (it turned out not to be a stop string). */
  flush(): string {
    const text = this.#held;
    this.#held = '';
    return text;
  }

  // The longest suffix of `buffer` that is a proper prefix of some stop string.
  #partialMatchLength(buffer: string): number {
    let longest = 0;
    for (const stop of this.#stops) {
      for (let length = Math.min(stop.length - 1, buffer.length); length > longest; length--) {
        if (buffer.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}
