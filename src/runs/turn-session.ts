import type { AgentInputItem, Session } from '@openai/agents';
import { encodeJson } from '../db/item-codec.js';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import type { AnyKysely } from '../db/schema.js';
import { DatabaseUnavailableError, InvalidArgumentError } from '../errors.js';
import { readItemFromNewest, readItems } from '../session/history-queries.js';
import { readHistoryWindow } from './history-window.js';
import type { StartHistory } from './run-queries.js';

/** One item a run added, encoded for its jsonb column when it was added. */
export interface AddedItem {
  readonly item: AgentInputItem;
  readonly json: string;
}

/**
 * Everything a run did to its chat's history, in the order the router applies it when the run
 * completes: clear the stored items (if `cleared`), remove the popped ones, append `added`.
 */
export interface TurnChanges {
  /** The runner cleared the history (it does when the items it saves start with a compaction). */
  readonly cleared: boolean;
  /** Positions of stored items the runner popped, newest first. Empty when `cleared`. */
  readonly removed: readonly number[];
  /** What the runner added, in order. */
  readonly added: readonly AddedItem[];
}

/**
 * The session a router run works with. It reads the chat's stored history, and holds back every
 * change the runner makes (`addItems`, `popItem`, `clearSession`) until the run is over, so that
 * the router applies them with the run's completion, in the one fenced statement that also
 * updates the chat's counters and the run record, or not at all if the run fails: a failed run
 * never changes its chat. Reads see the history as the changes so far would leave it, as they
 * would on a session that wrote at once.
 */
export class TurnSession implements Session {
  readonly #db: AnyKysely;
  readonly #chatId: string;
  readonly #historyLimit: number | undefined;
  #cleared = false;
  readonly #removed: number[] = [];
  readonly #added: AddedItem[] = [];
  /** The newest stored items as the statement that took the lease read them, for the first read. */
  #startHistory: StartHistory | undefined;

  constructor(db: AnyKysely, chatId: string, historyLimit?: number) {
    this.#db = db;
    this.#chatId = chatId;
    this.#historyLimit = historyLimit;
  }

  /**
   * How many of the newest items the run reads first (every one when undefined): what the
   * statement that takes the lease reads for it (see `startWith`).
   */
  get firstReadCount(): number | undefined {
    return this.#historyLimit === undefined ? undefined : this.#historyLimit + 1;
  }

  /**
   * The history as the statement that took the lease read it: the first read is served from it
   * instead of a statement of its own. Under the lease no other run writes the chat, so those
   * items are what a read would return; later reads go to the database as before.
   */
  startWith(history: StartHistory | undefined): void {
    this.#startHistory = history;
  }

  async getSessionId(): Promise<string> {
    return this.#chatId;
  }

  /**
   * The most recent `limit` items of the history as this run's changes leave it. With
   * `historyLimit`, the runner's "everything" becomes the window `historyWindow` describes.
   */
  async getItems(limit?: number): Promise<AgentInputItem[]> {
    if (limit !== undefined && !Number.isInteger(limit)) {
      throw new InvalidArgumentError(`getItems(limit): limit must be an integer, got ${String(limit)}.`);
    }
    if (limit !== undefined && limit <= 0) return [];
    if (limit === undefined && this.#historyLimit !== undefined) {
      return readHistoryWindow((count) => this.#latest(count), this.#historyLimit);
    }
    return this.#latest(limit);
  }

  async addItems(items: AgentInputItem[]): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidArgumentError('addItems(items): items must be an array.');
    // Encoded now: a snapshot the runner cannot change afterwards, and a bad item fails here.
    for (const item of items) this.#added.push({ item, json: encodeJson(item, 'item') });
  }

  async popItem(): Promise<AgentInputItem | undefined> {
    const added = this.#added.pop();
    if (added) return added.item;
    if (this.#cleared) return undefined;
    // The newest stored item this run has not popped yet.
    const stored = await databaseCall(() => readItemFromNewest(this.#db, this.#chatId, this.#removed.length));
    if (!stored) return undefined;
    this.#removed.push(stored.position);
    return stored.item;
  }

  /**
   * Takes the chat's last turn out of the history this run sees (and removes it with the run's
   * completion): the newest user message and everything after it. Returns that user message, to
   * be run again (a regeneration), or `undefined` when the history holds no user message.
   */
  async takeLastTurn(): Promise<AgentInputItem | undefined> {
    for (;;) {
      const stored = await databaseCall(() => readItemFromNewest(this.#db, this.#chatId, this.#removed.length));
      if (!stored) {
        // No user message at all: nothing was taken.
        this.#removed.length = 0;
        return undefined;
      }
      this.#removed.push(stored.position);
      if ('role' in stored.item && stored.item.role === 'user') return stored.item;
    }
  }

  async clearSession(): Promise<void> {
    this.#cleared = true;
    this.#removed.length = 0;
    this.#added.length = 0;
  }

  /** What the run did to the history, waiting to be applied with the run's completion. */
  get changes(): TurnChanges {
    return { cleared: this.#cleared, removed: this.#removed, added: this.#added };
  }

  /** The newest `count` items of the history as this run leaves it (every one when undefined). */
  async #latest(count: number | undefined): Promise<AgentInputItem[]> {
    const added = this.#added.map((entry) => entry.item);
    const fromStore = count === undefined ? undefined : Math.max(count - added.length, 0);
    const stored = this.#cleared || fromStore === 0 ? [] : await this.#readStored(fromStore);
    const items = [...stored, ...added];
    return count === undefined ? items : items.slice(-count);
  }

  /** The newest `count` stored items (every one when undefined) less those this run popped. */
  async #readStored(count: number | undefined): Promise<AgentInputItem[]> {
    const popped = this.#removed.length;
    const start = this.#startHistory;
    this.#startHistory = undefined;
    if (start && popped === 0 && (start.complete || (count !== undefined && count <= start.items.length))) {
      return count === undefined ? start.items : start.items.slice(-count);
    }
    const items = await databaseCall(() =>
      readItems(this.#db, this.#chatId, count === undefined ? undefined : count + popped),
    );
    return popped === 0 ? items : items.slice(0, Math.max(items.length - popped, 0));
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
