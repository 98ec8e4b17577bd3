/**
 * The queue between the addon's event callback and one request's async iterator. Events arrive on the
 * JavaScript thread in batches; the iterator takes everything queued at once, so a slow consumer gets
 * fewer, larger chunks instead of falling behind.
 */
import type { NativeEvent } from './native.js';

export class RequestStream {
  #queued: NativeEvent[] = [];
  #waiting: ((events: NativeEvent[]) => void) | undefined;
  #finished = false;

  /** True once the final event (one with a finish reason) has been pushed. */
  get finished(): boolean {
    return this.#finished;
  }

  push(event: NativeEvent): void {
    if (this.#finished) return;
    if (event.finishReason !== undefined) this.#finished = true;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve([event]);
    } else {
      this.#queued.push(event);
    }
  }

  /** Resolves with every event queued so far, waiting for at least one. */
  take(): Promise<NativeEvent[]> {
    if (this.#queued.length > 0) {
      const events = this.#queued;
      this.#queued = [];
      return Promise.resolve(events);
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }
}
