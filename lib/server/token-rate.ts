/**
 * Tokens per second over a sliding window: samples a growing token count once a second and reports the
 * rate between the oldest and the newest sample.
 */

interface Sample {
  time: number;
  tokens: number;
}

export class TokenRate {
  readonly #samples: Sample[] = [];
  readonly #windowMs: number;

  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }

  /** Records the count now, and forgets samples older than the window. */
  sample(tokens: number, time = performance.now()): void {
    this.#samples.push({ time, tokens });
    while (this.#samples.length > 2 && time - (this.#samples[0] as Sample).time > this.#windowMs) this.#samples.shift();
  }

  /** Tokens per second over the window (0 until two samples exist). */
  get perSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.time <= first.time) return 0;
    return ((last.tokens - first.tokens) * 1000) / (last.time - first.time);
  }
}
