import { sql } from 'kysely';
import type { AnyKysely } from '../db/schema.js';
import type { Logger } from '../http/logger.js';
import { newestEventsOfStoppedRuns, readEventsOfRuns } from './event-queries.js';
import { expireStaleRuns } from './run-queries.js';
import type { RecordedRunEvent } from './run-payloads.js';

/** How often an instance looks for cancel requests made elsewhere for the runs it executes. */
export const CANCEL_POLL_MS = 250;
/** How often an instance reads new events of runs executed elsewhere that it has followers of. */
export const FOLLOW_POLL_MS = 100;
/** How often it checks whether such a run's instance died (its lease lapsed: close it as expired). */
export const STALE_CHECK_MS = 2_000;
/** The most events of one run a poll reads. */
const EVENTS_PER_READ = 1000;

interface Follower {
  readonly runId: string;
  afterId: number;
  /**
   * Gets new events in order (`more`: the read was cut at its limit, so later ones may exist
   * already). Returns true once the follower has what it waited for (its stream is over).
   */
  readonly deliver: (events: RecordedRunEvent[], more: boolean) => boolean;
  /** The run stopped (for now) and the follower has its last event already: nothing will come. */
  readonly over: () => void;
}

/**
 * What one instance watches in PostgreSQL for one database: cancel requests for the runs it
 * executes, and new events of runs executed elsewhere that it has followers of. Each kind is
 * one query per poll for every run at once, and polls only run while there is something to
 * watch. Polling rather than LISTEN/NOTIFY, so that it works through a connection pooler in
 * transaction mode too (PgBouncer), where a LISTEN does not survive the transaction.
 */
class RunWatcher {
  readonly #db: AnyKysely;
  readonly #cancels = new Map<string, () => void>();
  readonly #followers = new Set<Follower>();
  #cancelTimer: NodeJS.Timeout | undefined;
  #followTimer: NodeJS.Timeout | undefined;
  #lastStaleCheck = 0;
  readonly #logger: Logger;

  constructor(db: AnyKysely, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
  }

  /** Calls `onCancel` once a cancel was requested for the run (from any instance). */
  watchCancel(runId: string, onCancel: () => void): () => void {
    this.#cancels.set(runId, onCancel);
    this.#cancelTimer ??= setInterval(() => void this.#pollCancels(), CANCEL_POLL_MS).unref();
    return () => {
      this.#cancels.delete(runId);
      if (this.#cancels.size === 0 && this.#cancelTimer) {
        clearInterval(this.#cancelTimer);
        this.#cancelTimer = undefined;
      }
    };
  }

  /**
   * Feeds `deliver` with the run's events after `afterId` as they are recorded elsewhere, or
   * calls `over` if the run is not running and `afterId` is at or past its newest event (a
   * `Last-Event-ID` of its terminal event, or beyond any).
   */
  follow(runId: string, afterId: number, deliver: Follower['deliver'], over: Follower['over']): () => void {
    const follower: Follower = { runId, afterId, deliver, over };
    this.#followers.add(follower);
    this.#followTimer ??= setInterval(() => void this.#pollEvents(), FOLLOW_POLL_MS).unref();
    // The first read at once: a replay should not wait for the next poll.
    void this.#pollEvents([follower]);
    return () => this.#unfollow(follower);
  }

  #unfollow(follower: Follower): void {
    this.#followers.delete(follower);
    if (this.#followers.size === 0 && this.#followTimer) {
      clearInterval(this.#followTimer);
      this.#followTimer = undefined;
    }
  }

  async #pollCancels(): Promise<void> {
    const ids = [...this.#cancels.keys()];
    if (ids.length === 0) return;
    try {
      const { rows } = await sql<{ id: string }>`
        SELECT id FROM agent_runs WHERE id = ANY(${ids}::uuid[]) AND cancel_requested_at IS NOT NULL
      `.execute(this.#db);
      for (const { id } of rows) this.#cancels.get(id)?.();
    } catch (error) {
      // The database may be briefly away; the next poll asks again.
      this.#logger.warn('Could not check for cancel requests', { error: String(error) });
    }
  }

  #polling = false;

  async #endFollowersPastTheEnd(followers: readonly Follower[]): Promise<void> {
    const newest = await newestEventsOfStoppedRuns(this.#db, [...new Set(followers.map((follower) => follower.runId))]);
    for (const follower of followers) {
      const last = newest.get(follower.runId);
      if (last === undefined || last > follower.afterId || !this.#followers.has(follower)) continue;
      this.#unfollow(follower);
      follower.over();
    }
  }

  async #pollEvents(only?: Follower[]): Promise<void> {
    if (this.#polling && !only) return;
    const followers = only ?? [...this.#followers];
    if (followers.length === 0) return;
    if (!only) this.#polling = true;
    try {
      const checkStale = !only && Date.now() - this.#lastStaleCheck > STALE_CHECK_MS;
      if (checkStale) {
        // A run whose instance died records nothing more: close it once its lease lapsed, so
        // that its followers get its terminal event (run_expired) instead of waiting for ever.
        this.#lastStaleCheck = Date.now();
        await expireStaleRuns(this.#db, { runIds: [...new Set(followers.map((follower) => follower.runId))] });
      }
      const cursors = new Map<string, { runId: string; afterId: number }>();
      for (const follower of followers) {
        const key = `${follower.runId}:${follower.afterId}`;
        if (!cursors.has(key)) cursors.set(key, { runId: follower.runId, afterId: follower.afterId });
      }
      const events = await readEventsOfRunsFrom(this.#db, [...cursors.values()]);
      const waiting: Follower[] = [];
      for (const follower of followers) {
        if (!this.#followers.has(follower)) continue;
        const fresh = (events.get(follower.runId) ?? []).filter((event) => event.id > follower.afterId);
        if (fresh.length === 0) {
          waiting.push(follower);
          continue;
        }
        follower.afterId = fresh.at(-1)!.id;
        if (follower.deliver(fresh, (events.get(follower.runId) ?? []).length >= EVENTS_PER_READ)) this.#unfollow(follower);
      }
      // A follower that asked for events after the run's last one would wait for ever once the
      // run stopped: it is told so on its first read, and at each stale check after that.
      if (waiting.length > 0 && (only || checkStale)) await this.#endFollowersPastTheEnd(waiting);
    } catch (error) {
      this.#logger.warn('Could not read run events for followers', { error: String(error) });
    } finally {
      if (!only) this.#polling = false;
    }
  }
}

/** The events of each run after the smallest cursor asked for it (followers filter their own). */
async function readEventsOfRunsFrom(
  db: AnyKysely,
  cursors: readonly { runId: string; afterId: number }[],
): Promise<Map<string, RecordedRunEvent[]>> {
  const lowest = new Map<string, number>();
  for (const { runId, afterId } of cursors) lowest.set(runId, Math.min(afterId, lowest.get(runId) ?? afterId));
  return readEventsOfRuns(
    db,
    [...lowest].map(([runId, afterId]) => ({ runId, afterId })),
    EVENTS_PER_READ,
  );
}

const watchers = new WeakMap<object, RunWatcher>();

/**
 * The watcher of this process for the database behind `db` (one per Kysely instance; `db` must
 * not be a transaction, since the watcher keeps querying after the request that made it ends).
 */
export function runWatcher(db: AnyKysely, logger: Logger): RunWatcher {
  const key = db.getExecutor().adapter;
  let watcher = watchers.get(key);
  if (!watcher) watchers.set(key, (watcher = new RunWatcher(db, logger)));
  return watcher;
}
