import type { AnyKysely } from '../db/schema.js';
import type { Logger } from '../http/logger.js';
import { activeRuns } from './active-runs.js';
import { readEvents } from './event-queries.js';
import { isTerminalEvent, type RecordedRunEvent } from './run-payloads.js';
import { runWatcher } from './run-watcher.js';

export interface FollowRunArgs {
  /** The database itself (not a transaction: following outlives the request's first query). */
  db: AnyKysely;
  runId: string;
  /** Replay the events after this id (0: from the start). */
  afterId: number;
  logger: Logger;
  onEvent: (event: RecordedRunEvent) => void;
  /** Aborted when the follower goes away. */
  signal: AbortSignal;
}

/**
 * Feeds `onEvent` the run's events after `afterId`, then the new ones as they happen, up to the
 * terminal event that is the run's last for now (a run waiting for approval ends a follower's
 * stream; its resume starts a new stretch). Each event once, in order, without gap. Resolves when
 * the stream is over or the follower went away. An `afterId` at or past the run's newest event
 * (the id of its terminal event, which an EventSource sends when it reconnects, or garbage) on a
 * run that is not running gets nothing, and the stream ends at once instead of waiting for ever.
 *
 * A run this instance executes is followed in memory, without delay. Any other is followed
 * through PostgreSQL: this instance polls for the events of every run it has followers of in one
 * query, and closes a run whose instance died (its lease lapsed) so that its followers get its
 * terminal event (run_expired) rather than waiting for ever.
 */
export function followRun(args: FollowRunArgs): Promise<void> {
  const { db, runId, logger, onEvent, signal } = args;
  return new Promise<void>((resolve) => {
    let stop = () => {};
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stop();
      signal.removeEventListener('abort', finish);
      resolve();
    };
    if (signal.aborted) return finish();
    signal.addEventListener('abort', finish, { once: true });

    const local = activeRuns.get(runId);
    if (!local) {
      stop = runWatcher(db, logger).follow(
        runId,
        args.afterId,
        (events, more) => {
          for (const event of events) onEvent(event);
          // A terminal event that is the newest recorded one ends the stream.
          if (!more && isTerminalEvent(events.at(-1)!)) finish();
          return done;
        },
        finish,
      );
      return;
    }
    void (async () => {
      let after = args.afterId;
      if (after < local.firstEventId - 1) {
        // Stretches before a resume were recorded by their own run: read them from PostgreSQL.
        for (const event of await readEvents(db, runId, after, local.firstEventId - 1 - after)) {
          if (event.id >= local.firstEventId || done) break;
          onEvent(event);
          after = event.id;
        }
      }
      if (done) return;
      stop = local.subscribe(after, (event) => {
        // Only the events after the client's last, as from PostgreSQL; the stream ends with the
        // stretch's terminal event even when the client claimed to have it (or later ones).
        if (event.id > after) onEvent(event);
        if (isTerminalEvent(event)) finish();
      });
    })().catch((error) => {
      logger.warn(`Could not replay the events of run ${runId}`, { error: String(error) });
      finish();
    });
  });
}
