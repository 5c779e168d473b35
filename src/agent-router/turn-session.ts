import type { AgentInputItem, Session } from '@openai/agents';
import { encodeJson } from '../db/item-codec.js';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import { DatabaseUnavailableError, InvalidArgumentError } from '../errors.js';
import type { PostgresSession } from '../session/postgres-session.js';
import { readHistoryWindow } from './history-window.js';

/**
 * The session a router run works with. It reads the history from the chat's PostgresSession, and
 * holds back what the runner adds until the run is over, so that the router writes the turn, the
 * chat's counters and the run's completion together, or nothing at all if the run fails: the
 * history never holds half a turn. (The 0.20 runner adds a turn's items once, at the end; it only
 * reads them back in resume flows the router does not offer.)
 */
export class TurnSession implements Session {
  readonly #history: PostgresSession;
  readonly #historyLimit: number | undefined;
  readonly #pending: { item: AgentInputItem; json: string }[] = [];

  constructor(history: PostgresSession, historyLimit?: number) {
    this.#history = history;
    this.#historyLimit = historyLimit;
  }

  getSessionId(): Promise<string> {
    return this.#history.getSessionId();
  }

  /** With `historyLimit`, the runner's "everything" becomes the window `historyWindow` describes. */
  async getItems(limit?: number): Promise<AgentInputItem[]> {
    return databaseCall(async () => {
      if (limit === undefined && this.#historyLimit !== undefined) {
        return readHistoryWindow((count) => this.#history.getItems(count), this.#historyLimit);
      }
      return this.#history.getItems(limit);
    });
  }

  async addItems(items: AgentInputItem[]): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidArgumentError('addItems(items): items must be an array.');
    // Encoded now: a snapshot the runner cannot change afterwards, and a bad item fails here.
    for (const item of items) this.#pending.push({ item, json: encodeJson(item, 'item') });
  }

  async popItem(): Promise<AgentInputItem | undefined> {
    return this.#pending.pop()?.item ?? databaseCall(() => this.#history.popItem());
  }

  async clearSession(): Promise<void> {
    this.#pending.length = 0;
    await databaseCall(() => this.#history.clearSession());
  }

  /** What the run added, in order, waiting to be written with the run's completion. */
  get pending(): readonly { item: AgentInputItem; json: string }[] {
    return this.#pending;
  }
}

/** Errors of the database reached through the runner keep their meaning (503, not 502 or 500). */
async function databaseCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : error;
  }
}
