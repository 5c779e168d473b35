import { sql, type RawBuilder } from 'kysely';
import { detectEngine } from '../db/engine.js';
import { decodeJsonObject, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import type { RecordedRunEvent } from './run-payloads.js';

/**
 * The SQL of a run's recorded events (agent_run_events). A run's events are written in batches
 * while it goes on, and its last ones together with the statement that records how it ended.
 */

/** An event encoded for the database: its data as JSON text for a jsonb parameter. */
export interface EncodedEvent {
  readonly id: number;
  readonly event: string;
  readonly data: string;
}

export function encodeEvent(event: RecordedRunEvent): EncodedEvent {
  return { id: event.id, event: event.event, data: encodeJson(event.data, 'event') };
}

function decodeEvent(row: { id: number; event: string; data: unknown }): RecordedRunEvent {
  return { id: Number(row.id), event: row.event, data: decodeJsonObject(row.data) } as RecordedRunEvent;
}

/** The events as one JSON array text, for `jsonb_array_elements`. */
function eventsJson(events: readonly EncodedEvent[]): string {
  return `[${events.map((event) => `{"id":${event.id},"event":${JSON.stringify(event.event)},"data":${event.data}}`).join(',')}]`;
}

/**
 * A data-modifying CTE body that inserts `events` for the run, for statements that record a run's
 * end: `INSERT ... SELECT ... FROM <source>`, where `source` yields one row when the end was
 * recorded (so the events are written with it or not at all). PostgreSQL only.
 */
export function insertEventsFrom(runId: string, events: readonly EncodedEvent[], source: RawBuilder<unknown>) {
  if (events.length === 0) return sql`SELECT 1`;
  return sql`
    INSERT INTO agent_run_events (run_id, id, event, data)
    SELECT ${runId}::uuid, (e.value ->> 'id')::integer, e.value ->> 'event', e.value -> 'data'
    FROM ${source} AS ended, jsonb_array_elements(${eventsJson(events)}::jsonb) AS e
    ON CONFLICT (run_id, id) DO NOTHING
  `;
}

/**
 * Writes a batch of a running run's events. Only while the run is `running`: a run closed by
 * another instance (expired) takes no more events, so that its terminal event stays its last.
 * `FOR SHARE` makes a concurrent close wait for this insert, or this insert see the close. A
 * retried batch (its first reply lost) inserts nothing twice.
 */
export async function insertRunningEvents(db: AnyKysely, runId: string, events: readonly EncodedEvent[]): Promise<void> {
  if (events.length === 0) return;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    await sql`
      WITH live AS (
        SELECT id FROM agent_runs WHERE id = ${runId} AND status = 'running' FOR SHARE
      )
      ${insertEventsFrom(runId, events, sql`live`)}
    `.execute(db);
    return;
  }
  await insertEventRows(db, runId, events);
}

/** pg-mem: a plain multi-row insert (it has no jsonb_array_elements; one process, one writer). */
export async function insertEventRows(db: AnyKysely, runId: string, events: readonly EncodedEvent[]): Promise<void> {
  if (events.length === 0) return;
  await (db as AgentRouterDb)
    .insertInto('agent_run_events')
    .values(events.map((event) => ({ run_id: runId, id: event.id, event: event.event, data: event.data })))
    .onConflict((conflict) => conflict.columns(['run_id', 'id']).doNothing())
    .execute();
}

/** The run's events after `afterId`, in order, at most `limit` of them. */
export async function readEvents(db: AnyKysely, runId: string, afterId: number, limit = 1000): Promise<RecordedRunEvent[]> {
  const rows = await (db as AgentRouterDb)
    .selectFrom('agent_run_events')
    .select(['id', 'event', 'data'])
    .where('run_id', '=', runId)
    .where('id', '>', afterId)
    .orderBy('id', 'asc')
    .limit(limit)
    .execute();
  return rows.map(decodeEvent);
}

/**
 * The events of several runs after each run's own cursor, in one round trip on PostgreSQL: what
 * one instance's followers of runs held elsewhere need on each poll.
 */
export async function readEventsOfRuns(
  db: AnyKysely,
  cursors: readonly { runId: string; afterId: number }[],
  limitPerRun = 1000,
): Promise<Map<string, RecordedRunEvent[]>> {
  const byRun = new Map<string, RecordedRunEvent[]>(cursors.map((cursor) => [cursor.runId, []]));
  if (cursors.length === 0) return byRun;
  const { postgres } = await detectEngine(db);
  if (!postgres) {
    for (const cursor of cursors) byRun.set(cursor.runId, await readEvents(db, cursor.runId, cursor.afterId, limitPerRun));
    return byRun;
  }
  const { rows } = await sql<{ run_id: string; id: number; event: string; data: unknown }>`
    SELECT e.run_id, e.id, e.event, e.data
    FROM unnest(${cursors.map((cursor) => cursor.runId)}::uuid[], ${cursors.map((cursor) => cursor.afterId)}::integer[])
         AS cursor(run_id, after_id)
    CROSS JOIN LATERAL (
      SELECT run_id, id, event, data FROM agent_run_events
      WHERE run_id = cursor.run_id AND id > cursor.after_id
      ORDER BY id LIMIT ${limitPerRun}
    ) AS e
    ORDER BY e.run_id, e.id
  `.execute(db);
  for (const row of rows) byRun.get(row.run_id)?.push(decodeEvent(row));
  return byRun;
}

/**
 * Of the given runs, those that are not running (they ended, wait for an approval, or are gone):
 * the id of each one's newest event, 0 for a run that is gone. A follower that has that event
 * already will get nothing more from the run, unless it resumes.
 */
export async function newestEventsOfStoppedRuns(db: AnyKysely, runIds: readonly string[]): Promise<Map<string, number>> {
  const stopped = new Map<string, number>(runIds.map((runId) => [runId, 0]));
  if (runIds.length === 0) return stopped;
  const rows = await (db as AgentRouterDb)
    .selectFrom('agent_runs as run')
    .leftJoin('agent_run_events as event', 'event.run_id', 'run.id')
    .select(['run.id', 'run.status', (eb) => eb.fn.max('event.id').as('newest')])
    .where('run.id', 'in', [...runIds])
    .groupBy(['run.id', 'run.status'])
    .execute();
  for (const row of rows) {
    if (row.status === 'running') stopped.delete(row.id);
    else stopped.set(row.id, Number(row.newest ?? 0));
  }
  return stopped;
}

/** The id of the run's newest recorded event (0 when it has none). */
export async function lastEventId(db: AnyKysely, runId: string): Promise<number> {
  const { rows } = await sql<{ last: number | null }>`
    SELECT max(id) AS last FROM agent_run_events WHERE run_id = ${runId}
  `.execute(db);
  return Number(rows[0]?.last ?? 0);
}

/**
 * Prunes the events of runs that ended more than `retentionMs` ago, all but each run's last
 * (terminal) event, which tells a late follower how the run ended. Returns how many runs it
 * pruned; at most `batch` per call, so that one call stays short.
 */
export async function pruneRunEvents(db: AnyKysely, retentionMs: number, batch = 500): Promise<number> {
  // From this process's clock: a retention is hours, against which clock skew does not matter.
  const cutoff = new Date(Date.now() - retentionMs);
  const due = sql`
    SELECT id FROM agent_runs
    WHERE events_pruned_at IS NULL AND finished_at < ${cutoff}
      AND status IN ('completed', 'failed', 'cancelled')
    ORDER BY finished_at
    LIMIT ${batch}
  `;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ pruned: number }>`
      WITH due AS (${due} FOR UPDATE SKIP LOCKED), pruned AS (
        DELETE FROM agent_run_events AS event USING due
        WHERE event.run_id = due.id
          AND event.id < (SELECT max(id) FROM agent_run_events WHERE run_id = due.id)
      ), marked AS (
        UPDATE agent_runs SET events_pruned_at = now() WHERE id IN (SELECT id FROM due) RETURNING 1
      )
      SELECT count(*)::integer AS pruned FROM marked
    `.execute(db);
    return Number(rows[0]!.pruned);
  }
  const { rows } = await due.execute(db);
  for (const { id } of rows as { id: string }[]) {
    const last = await lastEventId(db, id);
    await sql`DELETE FROM agent_run_events WHERE run_id = ${id} AND id < ${last}`.execute(db);
    await sql`UPDATE agent_runs SET events_pruned_at = now() WHERE id = ${id}`.execute(db);
  }
  return rows.length;
}
