/**
 * A model's requests in flight: each one's stream of events, by the addon's request id. The addon's event
 * callback delivers into it; a request leaves it with its final event.
 */
import type { NativeEvent } from './native.js';
import { RequestStream } from './request-stream.js';

export class Requests {
  readonly #streams = new Map<number, RequestStream>();

  /** The addon's event callback: routes each event to its request's stream. */
  readonly deliver = (events: NativeEvent[]): void => {
    for (const event of events) {
      const stream = this.#streams.get(event.requestId);
      if (!stream) continue;
      stream.push(event);
      if (event.finishReason !== undefined) this.#streams.delete(event.requestId);
    }
  };

  /** The stream of a request the addon just accepted; events cannot arrive before this (same tick). */
  open(requestId: number): RequestStream {
    const stream = new RequestStream();
    this.#streams.set(requestId, stream);
    return stream;
  }

  /**
   * Ends every stream still open with 'abort'. After dispose() the addon has delivered every final
   * event, so this finds none; it is a safety net against a stream that would wait forever.
   */
  abortAll(): void {
    for (const [requestId, stream] of this.#streams) stream.push({ requestId, tokenIds: [], finishReason: 'abort' });
    this.#streams.clear();
  }
}
