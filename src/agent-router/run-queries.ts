import { sql, type RawBuilder } from 'kysely';
import { detectEngine } from '../db/engine.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import { insertItemsAt, jsonArray, type EncodedItems } from '../session/history-queries.js';

/**
 * The SQL of a run through the router: take the chat's lease and record the run, then, when the
 * run ends, write its whole turn (items, chat counters and tokens, run completion, lease release)
 * at once. On PostgreSQL each of these is one statement, so a run costs three round trips with
 * the history read. On pg-mem (no data-modifying WITH) each runs as a few single statements.
 */

export interface Usage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** Token usage as the library records it, with zeros for what the SDK did not report. */
export function usageOf(usage: Partial<Usage> | undefined): Usage {
  return {
    requests: usage?.requests ?? 0,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    totalTokens: usage?.totalTokens ?? 0,
  };
}

export interface StartRunArgs {
  runId: string;
  userId: string;
  agentName: string;
  streamed: boolean;
  /** The caller's input, encoded for a jsonb parameter (see encodeTaggedJson). */
  input: string;
  leaseTtlMs: number;
}

export type StartResult =
  | { outcome: 'started' }
  | { outcome: 'busy'; retryAfterMs: number; holderRunId: string | null }
  | { outcome: 'not_found' };

const EXPIRED_MESSAGE = 'The run stopped without finishing (its process ended); its lease expired.';

/** Creates a chat for the caller, holding the lease for the run, and records the run. */
export async function startRunOnNewChat(
  db: AnyKysely,
  args: StartRunArgs & { chatId: string; title: string | null },
): Promise<void> {
  const ttl = `${args.leaseTtlMs} milliseconds`;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    await sql`
      WITH chat AS (
        INSERT INTO agent_chats (id, user_id, title, lease_run_id, lease_expires_at)
        VALUES (${args.chatId}, ${args.userId}, ${args.title}, ${args.runId}, now() + ${ttl}::interval)
        RETURNING id
      )
      INSERT INTO agent_runs (id, session_id, user_id, agent_name, streamed, input)
      SELECT ${args.runId}::uuid, chat.id, ${args.userId}, ${args.agentName}, ${args.streamed}, ${args.input}::jsonb
      FROM chat
    `.execute(db);
    return;
  }
  await sql`
    INSERT INTO agent_chats (id, user_id, title, lease_run_id, lease_expires_at)
    VALUES (${args.chatId}, ${args.userId}, ${args.title}, ${args.runId}, now() + ${ttl}::interval)
  `.execute(db);
  await insertRun(db, { ...args, chatId: args.chatId });
}

/**
 * Takes the lease of a chat for a new run and records the run, unless another live
 * run holds it. A lease whose holder let it expire (its process died) is taken over, and that
 * holder's run, still marked running, is closed as failed. With `ownerId`, only a chat of that
 * owner is found (the default store's rule); with `null` the caller was admitted already.
 */
export async function startRunOnChat(
  db: AnyKysely,
  args: StartRunArgs & { chatId: string; ownerId: string | null },
): Promise<StartResult> {
  const ttl = `${args.leaseTtlMs} milliseconds`;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // `previous` locks the row and reads it as it is once locked (FOR UPDATE waits for a
    // concurrent taker and then sees its lease), which UPDATE ... RETURNING cannot: it only shows
    // new values. The final SELECT tells a busy chat from a missing one without another round trip.
    const { rows } = await sql<StartRow>`
      WITH previous AS (
        SELECT id, lease_run_id, lease_expires_at FROM agent_chats
        WHERE id = ${args.chatId} ${ownedBy(args.ownerId)}
        FOR UPDATE
      ), lease AS (
        UPDATE agent_chats AS chat
        SET lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
        FROM previous
        WHERE chat.id = previous.id AND (chat.lease_run_id IS NULL OR chat.lease_expires_at <= now())
        RETURNING previous.lease_run_id AS previous_run_id
      ), expired AS (
        UPDATE agent_runs
        SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
        WHERE id = (SELECT previous_run_id FROM lease) AND status = 'running'
      ), run AS (
        INSERT INTO agent_runs (id, session_id, user_id, agent_name, streamed, input)
        SELECT ${args.runId}::uuid, ${args.chatId}, ${args.userId}, ${args.agentName}, ${args.streamed}, ${args.input}::jsonb
        FROM lease
      )
      SELECT EXISTS (SELECT 1 FROM lease) AS acquired,
             EXISTS (SELECT 1 FROM previous) AS exists,
             (SELECT lease_expires_at FROM previous) AS lease_expires_at,
             (SELECT lease_run_id FROM previous) AS lease_run_id,
             now() AS now
    `.execute(db);
    return startResult(rows[0]!);
  }

  const chat = await sql<{ lease_run_id: string | null; lease_expires_at: Date | null }>`
    SELECT lease_run_id, lease_expires_at FROM agent_chats WHERE id = ${args.chatId} ${ownedBy(args.ownerId)}
  `
    .execute(db)
    .then((result) => result.rows[0]);
  if (!chat) return { outcome: 'not_found' };
  const { rows } = await sql<{ id: string }>`
    UPDATE agent_chats SET lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
    WHERE id = ${args.chatId} AND (lease_run_id IS NULL OR lease_expires_at <= now())
    RETURNING id
  `.execute(db);
  if (rows.length === 0) {
    return startResult({
      acquired: false,
      exists: true,
      lease_expires_at: chat.lease_expires_at,
      lease_run_id: chat.lease_run_id,
      now: new Date(),
    });
  }
  if (chat.lease_run_id) {
    await sql`
      UPDATE agent_runs
      SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
      WHERE id = ${chat.lease_run_id} AND status = 'running'
    `.execute(db);
  }
  await insertRun(db, args);
  return { outcome: 'started' };
}

/** The owner condition of a chat lookup: none when the host's store already admitted the caller. */
function ownedBy(ownerId: string | null) {
  return ownerId === null ? sql`` : sql`AND user_id = ${ownerId}`;
}

interface StartRow {
  acquired: boolean;
  exists: boolean;
  lease_expires_at: Date | null;
  lease_run_id: string | null;
  now: Date;
}

function startResult(row: StartRow): StartResult {
  if (row.acquired) return { outcome: 'started' };
  if (!row.exists) return { outcome: 'not_found' };
  // Taken between our snapshot and our lock, or held: retry around when it lapses.
  const left = row.lease_expires_at ? new Date(row.lease_expires_at).getTime() - new Date(row.now).getTime() : 0;
  return { outcome: 'busy', retryAfterMs: Math.max(left, 0), holderRunId: row.lease_run_id };
}

async function insertRun(db: AnyKysely, args: StartRunArgs & { chatId: string }): Promise<void> {
  await (db as AgentRouterDb)
    .insertInto('agent_runs')
    .values({
      id: args.runId,
      session_id: args.chatId,
      user_id: args.userId,
      agent_name: args.agentName,
      streamed: args.streamed,
      input: args.input,
    })
    .execute();
}

/** Creates the caller's chat under a given id if no chat has it (`autoCreateChats`). */
export async function createChatIfMissing(db: AnyKysely, chatId: string, userId: string, title: string | null): Promise<void> {
  await (db as AgentRouterDb)
    .insertInto('agent_chats')
    .values({ id: chatId, user_id: userId, title })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
}

/** A lease renewal's outcome: still held, taken by another run or released, or its chat is gone. */
export type RenewResult = 'held' | 'lost' | 'chat_deleted';

/** Extends the lease while a long run goes on. */
export async function renewLease(db: AnyKysely, chatId: string, runId: string, leaseTtlMs: number): Promise<RenewResult> {
  const { rows } = await sql<{ id: string; lease_run_id: string | null }>`
    UPDATE agent_chats
    SET lease_expires_at = CASE WHEN lease_run_id = ${runId} THEN now() + ${`${leaseTtlMs} milliseconds`}::interval
                                ELSE lease_expires_at END
    WHERE id = ${chatId}
    RETURNING id, lease_run_id
  `.execute(db);
  if (!rows[0]) return 'chat_deleted';
  return rows[0].lease_run_id === runId ? 'held' : 'lost';
}

export interface CompleteRunArgs {
  chatId: string;
  runId: string;
  /** Clear the stored history before adding `items` (the runner replaced it: a compaction). */
  cleared: boolean;
  /** Positions of stored items the run removed (popped). */
  removed: readonly number[];
  items: EncodedItems;
  /** The agent that produced each item, in the same order. */
  itemAgents: (string | null)[];
  /** The agent that answered (after any handoff). */
  lastAgentName: string;
  /** The final output, encoded with encodeTaggedJson. */
  finalOutput: string;
  usage: Usage;
  durationMs: number;
}

/** Whether a run's turn was written, and if not, whether its chat still exists. */
export type CompleteResult = 'written' | 'lease_lost' | 'chat_deleted';

/**
 * Writes a finished run's whole turn in one statement: the history changes it made (a clear,
 * popped items, its new items), the chat's counters, tokens and last agent, the run's
 * completion, and the lease's release. Nothing is written unless the run is still `running` and
 * still holds the lease (a run whose lease was taken over, or that was closed meanwhile, must
 * not interleave its turn with anyone else's).
 */
export async function completeRun(db: AnyKysely, args: CompleteRunArgs): Promise<CompleteResult> {
  const count = args.items.json.length;
  const removing = args.cleared || args.removed.length > 0;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // Every CTE reads the snapshot from before the statement, so the count of rows to remove and
    // the DELETE see the same rows, and neither sees the rows this statement inserts.
    const toRemove = args.cleared ? sql`TRUE` : sql`position = ANY(${[...args.removed]}::integer[])`;
    const { rows } = await sql<{ written: boolean; chat_exists: boolean }>`
      WITH chat AS (
        UPDATE agent_chats
        SET item_count = item_count + ${count}::integer
              - ${removing ? sql`(SELECT count(*)::integer FROM agent_items WHERE session_id = ${args.chatId} AND ${toRemove})` : sql`0`},
            next_position = next_position + ${count}::integer,
            input_tokens = input_tokens + ${args.usage.inputTokens}::bigint,
            output_tokens = output_tokens + ${args.usage.outputTokens}::bigint,
            total_tokens = total_tokens + ${args.usage.totalTokens}::bigint,
            last_agent_name = ${args.lastAgentName},
            lease_run_id = NULL,
            lease_expires_at = NULL,
            updated_at = now()
        WHERE id = ${args.chatId} AND lease_run_id = ${args.runId}
          AND EXISTS (SELECT 1 FROM agent_runs WHERE id = ${args.runId} AND status = 'running')
        RETURNING id, next_position
      ), removed AS (
        DELETE FROM agent_items
        WHERE ${removing ? sql`session_id = (SELECT id FROM chat) AND ${toRemove}` : sql`FALSE`}
      ), forgotten AS (
        -- A cleared history starts afresh, as PostgresSession's clearSession does.
        DELETE FROM agent_history_operations
        WHERE ${args.cleared ? sql`session_id = (SELECT id FROM chat)` : sql`FALSE`}
      ), items AS (
        INSERT INTO agent_items (session_id, position, item, agent_name, run_id)
        SELECT chat.id, chat.next_position - ${count} + new.ordinality::integer - 1, new.value,
               (${JSON.stringify(args.itemAgents)}::jsonb ->> (new.ordinality::integer - 1)),
               ${args.runId}::uuid
        FROM chat, jsonb_array_elements(${jsonArray(args.items)}::jsonb) WITH ORDINALITY AS new
      ), run AS (
        UPDATE agent_runs
        SET status = 'completed', final_output = ${args.finalOutput}::jsonb, last_agent_name = ${args.lastAgentName},
            item_count = ${count}, requests = ${args.usage.requests}, input_tokens = ${args.usage.inputTokens},
            output_tokens = ${args.usage.outputTokens}, total_tokens = ${args.usage.totalTokens},
            finished_at = now(), duration_ms = ${args.durationMs}
        WHERE id = ${args.runId} AND status = 'running' AND EXISTS (SELECT 1 FROM chat)
      )
      SELECT EXISTS (SELECT 1 FROM chat) AS written,
             EXISTS (SELECT 1 FROM agent_chats WHERE id = ${args.chatId}) AS chat_exists
    `.execute(db);
    return completeResult(rows[0]!);
  }

  const { rows } = await sql<{ next_position: number }>`
    UPDATE agent_chats
    SET item_count = item_count + ${count}::integer,
        next_position = next_position + ${count}::integer,
        input_tokens = input_tokens + ${args.usage.inputTokens}::bigint,
        output_tokens = output_tokens + ${args.usage.outputTokens}::bigint,
        total_tokens = total_tokens + ${args.usage.totalTokens}::bigint,
        last_agent_name = ${args.lastAgentName},
        lease_run_id = NULL,
        lease_expires_at = NULL,
        updated_at = now()
    WHERE id = ${args.chatId} AND lease_run_id = ${args.runId}
      AND EXISTS (SELECT 1 FROM agent_runs WHERE id = ${args.runId} AND status = 'running')
    RETURNING next_position
  `.execute(db);
  if (!rows[0]) {
    const chat = await (db as AgentRouterDb).selectFrom('agent_chats').select('id').where('id', '=', args.chatId).executeTakeFirst();
    return completeResult({ written: false, chat_exists: chat !== undefined });
  }
  if (removing) {
    let removal = (db as AgentRouterDb).deleteFrom('agent_items').where('session_id', '=', args.chatId);
    // New items are inserted after this, so "every item" is the stored history only.
    if (!args.cleared) removal = removal.where('position', 'in', [...args.removed]);
    const removed = await removal.returning('position').execute();
    await sql`
      UPDATE agent_chats SET item_count = item_count - ${removed.length}::integer WHERE id = ${args.chatId}
    `.execute(db);
    if (args.cleared) {
      await (db as AgentRouterDb).deleteFrom('agent_history_operations').where('session_id', '=', args.chatId).execute();
    }
  }
  await insertItemsAt(db, {
    sessionId: args.chatId,
    firstPosition: rows[0].next_position - count,
    json: args.items.json,
    agentNames: args.itemAgents,
    runId: args.runId,
  });
  await (db as AgentRouterDb)
    .updateTable('agent_runs')
    .set((eb) => ({
      status: 'completed',
      final_output: args.finalOutput,
      last_agent_name: args.lastAgentName,
      item_count: count,
      requests: args.usage.requests,
      input_tokens: args.usage.inputTokens,
      output_tokens: args.usage.outputTokens,
      total_tokens: args.usage.totalTokens,
      finished_at: eb.fn('now'),
      duration_ms: args.durationMs,
    }))
    .where('id', '=', args.runId)
    .where('status', '=', 'running')
    .execute();
  return 'written';
}

function completeResult(row: { written: boolean; chat_exists: boolean }): CompleteResult {
  if (row.written) return 'written';
  return row.chat_exists ? 'lease_lost' : 'chat_deleted';
}

export interface EndRunArgs {
  chatId: string;
  runId: string;
  status: 'failed' | 'cancelled';
  errorCode: string;
  errorMessage: string;
  lastAgentName: string | null;
  usage: Usage;
  durationMs: number;
}

/**
 * Records a run that ended without a turn to store (failed or cancelled): nothing is added to
 * the conversation, the tokens it spent count on the chat, and the lease is released if the run
 * still holds it. Only a run still marked running is changed, so a retry after a lost reply, or
 * a call after the run was completed or closed as expired, counts nothing twice.
 */
export async function endRunWithoutTurn(db: AnyKysely, args: EndRunArgs): Promise<void> {
  const { postgres } = await detectEngine(db);
  const endRun = sql`
    UPDATE agent_runs
    SET status = ${args.status}, error_code = ${args.errorCode}, error_message = ${args.errorMessage},
        last_agent_name = ${args.lastAgentName}, requests = ${args.usage.requests},
        input_tokens = ${args.usage.inputTokens}, output_tokens = ${args.usage.outputTokens},
        total_tokens = ${args.usage.totalTokens}, finished_at = now(), duration_ms = ${args.durationMs}
    WHERE id = ${args.runId} AND status = 'running'
  `;
  // Tokens count only when the run row changed; the lease goes whoever ended the run.
  const endOnChat = (ended: RawBuilder<boolean>) => sql`
    UPDATE agent_chats
    SET input_tokens = input_tokens + CASE WHEN ${ended} THEN ${args.usage.inputTokens}::bigint ELSE 0 END,
        output_tokens = output_tokens + CASE WHEN ${ended} THEN ${args.usage.outputTokens}::bigint ELSE 0 END,
        total_tokens = total_tokens + CASE WHEN ${ended} THEN ${args.usage.totalTokens}::bigint ELSE 0 END,
        lease_expires_at = CASE WHEN lease_run_id = ${args.runId} THEN NULL ELSE lease_expires_at END,
        lease_run_id = CASE WHEN lease_run_id = ${args.runId} THEN NULL ELSE lease_run_id END
    WHERE id = ${args.chatId}
  `;
  if (postgres) {
    // The chat row is locked first, as by every other writer, so this never deadlocks with one.
    await sql`
      WITH chat AS (
        SELECT id FROM agent_chats WHERE id = ${args.chatId} FOR UPDATE
      ), run AS (
        ${endRun} AND session_id = (SELECT id FROM chat) RETURNING 1
      )
      ${endOnChat(sql<boolean>`EXISTS (SELECT 1 FROM run)`)}
    `.execute(db);
    return;
  }
  const { rows } = await sql`${endRun} RETURNING 1`.execute(db);
  await endOnChat(sql<boolean>`${rows.length > 0}`).execute(db);
}

/**
 * Closes runs still marked running that can no longer finish: another run holds their chat's
 * lease, nobody does, or their lease lapsed more than `graceMs` ago (their process died, and
 * nobody has run on the chat since to take it over). Returns how many were closed. The agent
 * router calls it now and then; hosts can call it from a scheduled job.
 *
 * A lease that lapsed only just may still come back: a process that stalled (or lost its
 * database for a moment) renews it, or completes, as long as nobody else took the chat. The
 * grace keeps such a run from being closed as failed while it is about to succeed.
 *
 * On PostgreSQL this is one statement that locks the chats it closes runs on, as every writer
 * does first: a run that renews its lease meanwhile is re-checked after the renewal and left
 * alone, and a closed run's lease is released with it, so the run can no longer complete.
 */
export async function expireStaleRuns(db: AnyKysely, { graceMs = 60_000 }: { graceMs?: number } = {}): Promise<number> {
  const grace = `${graceMs} milliseconds`;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ closed: number }>`
      WITH stale AS (
        SELECT run.id AS run_id, chat.id AS chat_id FROM agent_runs AS run
        JOIN agent_chats AS chat ON chat.id = run.session_id
        WHERE run.status = 'running'
          AND (chat.lease_run_id IS DISTINCT FROM run.id OR chat.lease_expires_at <= now() - ${grace}::interval)
        FOR UPDATE OF chat
      ), released AS (
        UPDATE agent_chats SET lease_run_id = NULL, lease_expires_at = NULL
        WHERE id IN (SELECT chat_id FROM stale) AND lease_run_id IN (SELECT run_id FROM stale)
      ), closed AS (
        UPDATE agent_runs
        SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
        WHERE id IN (SELECT run_id FROM stale) AND status = 'running'
        RETURNING id
      )
      SELECT count(*)::integer AS closed FROM closed
    `.execute(db);
    return Number(rows[0]!.closed);
  }
  // pg-mem has no row locks and cannot run the statement above; it runs one statement at a time
  // in one process, and the UPDATE repeats the conditions so that what it closes is still stale.
  const { rows } = await sql<{ id: string; session_id: string }>`
    SELECT run.id, run.session_id FROM agent_runs AS run
    JOIN agent_chats AS chat ON chat.id = run.session_id
    WHERE run.status = 'running'
      AND (chat.lease_run_id IS NULL OR chat.lease_run_id <> run.id
           OR chat.lease_expires_at <= now() - ${grace}::interval)
  `.execute(db);
  let closed = 0;
  for (const row of rows) {
    await sql`
      UPDATE agent_chats SET lease_run_id = NULL, lease_expires_at = NULL
      WHERE id = ${row.session_id} AND lease_run_id = ${row.id} AND lease_expires_at <= now() - ${grace}::interval
    `.execute(db);
    // Closed only if the run does not hold its chat's lease (any more): it was not renewed meanwhile.
    const { rows: done } = await sql`
      UPDATE agent_runs
      SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
      WHERE id = ${row.id} AND status = 'running'
        AND NOT EXISTS (SELECT 1 FROM agent_chats WHERE id = ${row.session_id} AND lease_run_id = ${row.id})
      RETURNING id
    `.execute(db);
    closed += done.length;
  }
  return closed;
}
