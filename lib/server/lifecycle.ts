/**
 * The server's state (loading, ready, draining, closed) and its in-flight generations, so that shutting
 * down can wait for them and, past its deadline, abort them.
 */

export type ServerState = 'loading' | 'ready' | 'failed' | 'draining' | 'closed';

/** Why a generation's AbortSignal fired. */
export type AbortCause = 'client-closed' | 'shutdown';

export class Lifecycle {
  state: ServerState = 'loading';
  readonly #inFlight = new Set<AbortController>();
  #idleWaiters: (() => void)[] = [];

  /** Generations running now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Registers a running generation; call the returned function when it has ended. */
  track(controller: AbortController): () => void {
    this.#inFlight.add(controller);
    return () => {
      this.#inFlight.delete(controller);
      if (this.#inFlight.size === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    };
  }

  /** Resolves once no generation runs. */
  whenIdle(): Promise<void> {
    if (this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Aborts every running generation (they end within one engine step). */
  abortAll(): void {
    for (const controller of this.#inFlight) controller.abort('shutdown' satisfies AbortCause);
  }
}
