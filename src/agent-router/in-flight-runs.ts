import { ShuttingDownError } from '../errors.js';

/** One request between its drain check and the durable record of its run's end. */
export interface InFlightRun {
  /** Aborted by drain() when the shutdown timeout passes; the run gives up with its reason. */
  readonly signal: AbortSignal;
  leave(): void;
}

/**
 * The requests of one agent router that drain() must wait for: from the moment a request is
 * let in (before it waits for its lease, which can take a while) until its run's end is
 * recorded, background retries included, so that the host can close the database afterwards.
 */
export class InFlightRuns {
  readonly #entries = new Set<AbortController>();
  #draining = false;
  #idle: (() => void) | undefined;

  get size(): number {
    return this.#entries.size;
  }

  /** Whether drain() has begun (new requests are refused). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Lets a request in, or refuses it (503 shutting_down) once draining has begun. */
  enter(): InFlightRun {
    if (this.#draining) throw new ShuttingDownError();
    const controller = new AbortController();
    this.#entries.add(controller);
    return {
      signal: controller.signal,
      leave: () => {
        this.#entries.delete(controller);
        if (this.#entries.size === 0) this.#idle?.();
      },
    };
  }

  /** Refuses new requests from now on. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Resolves true once no request is in flight, or false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.#entries.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Aborts every request still in flight; returns how many there were. */
  abortAll(reason: unknown): number {
    for (const controller of this.#entries) controller.abort(reason);
    return this.#entries.size;
  }
}
