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
  | { outcome: 'busy'; retryAfterMs: number }
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
 * Takes the lease of the caller's chat for a new run and records the run, unless another live
 * run holds it. A lease whose holder let it expire (its process died) is taken over, and that
 * holder's run, still marked running, is closed as failed.
 */
export async function startRunOnChat(db: AnyKysely, args: StartRunArgs & { chatId: string }): Promise<StartResult> {
  const ttl = `${args.leaseTtlMs} milliseconds`;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // `previous` locks the row and reads the lease holder being replaced (UPDATE ... RETURNING
    // only sees new values). The final SELECT reads the snapshot from before the statement, to
    // tell a busy chat from a missing one without another round trip.
    const { rows } = await sql<{ acquired: boolean; exists: boolean; lease_expires_at: Date | null; now: Date }>`
      WITH previous AS (
        SELECT id, lease_run_id FROM agent_chats
        WHERE id = ${args.chatId} AND user_id = ${args.userId}
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
             EXISTS (SELECT 1 FROM agent_chats WHERE id = ${args.chatId} AND user_id = ${args.userId}) AS exists,
             (SELECT lease_expires_at FROM agent_chats WHERE id = ${args.chatId}) AS lease_expires_at,
             now() AS now
    `.execute(db);
    return startResult(rows[0]!);
  }

  const chat = await (db as AgentRouterDb)
    .selectFrom('agent_chats')
    .select(['lease_run_id', 'lease_expires_at'])
    .where('id', '=', args.chatId)
    .where('user_id', '=', args.userId)
    .executeTakeFirst();
  if (!chat) return { outcome: 'not_found' };
  const { rows } = await sql<{ id: string }>`
    UPDATE agent_chats SET lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
    WHERE id = ${args.chatId} AND (lease_run_id IS NULL OR lease_expires_at <= now())
    RETURNING id
  `.execute(db);
  if (rows.length === 0) {
    return startResult({ acquired: false, exists: true, lease_expires_at: chat.lease_expires_at, now: new Date() });
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

function startResult(row: { acquired: boolean; exists: boolean; lease_expires_at: Date | null; now: Date }): StartResult {
  if (row.acquired) return { outcome: 'started' };
  if (!row.exists) return { outcome: 'not_found' };
  // Taken between our snapshot and our lock, or held: retry around when it lapses.
  const left = row.lease_expires_at ? new Date(row.lease_expires_at).getTime() - new Date(row.now).getTime() : 0;
  return { outcome: 'busy', retryAfterMs: Math.max(left, 0) };
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

/** Extends the lease while a long run goes on. False when the run no longer holds it. */
export async function renewLease(db: AnyKysely, chatId: string, runId: string, leaseTtlMs: number): Promise<boolean> {
  const { rows } = await sql`
    UPDATE agent_chats SET lease_expires_at = now() + ${`${leaseTtlMs} milliseconds`}::interval
    WHERE id = ${chatId} AND lease_run_id = ${runId}
    RETURNING id
  `.execute(db);
  return rows.length > 0;
}

export interface CompleteRunArgs {
  chatId: string;
  runId: string;
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

/**
 * Writes a finished run's whole turn in one statement: its items, the chat's counters, tokens
 * and last agent, the run's completion, and the lease's release. Nothing is written unless the
 * run still holds the lease (a run whose lease was taken over must not interleave its turn
 * with the new holder's): then it returns false.
 */
export async function completeRun(db: AnyKysely, args: CompleteRunArgs): Promise<boolean> {
  const count = args.items.json.length;
  // Only while the run holds the lease: a run whose lease was taken over writes nothing.
  const chatUpdate = sql`
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
  `;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ written: boolean }>`
      WITH chat AS (
        ${chatUpdate} RETURNING next_position
      ), items AS (
        INSERT INTO agent_items (session_id, position, item, agent_name, run_id)
        SELECT ${args.chatId}, chat.next_position - ${count} + new.ordinality::integer - 1, new.value,
               (${JSON.stringify(args.itemAgents)}::jsonb ->> (new.ordinality::integer - 1)),
               ${args.runId}::uuid
        FROM chat, jsonb_array_elements(${jsonArray(args.items)}::jsonb) WITH ORDINALITY AS new
      ), run AS (
        UPDATE agent_runs
        SET status = 'completed', final_output = ${args.finalOutput}::jsonb, last_agent_name = ${args.lastAgentName},
            item_count = ${count}, requests = ${args.usage.requests}, input_tokens = ${args.usage.inputTokens},
            output_tokens = ${args.usage.outputTokens}, total_tokens = ${args.usage.totalTokens},
            finished_at = now(), duration_ms = ${args.durationMs}
        WHERE id = ${args.runId} AND EXISTS (SELECT 1 FROM chat)
      )
      SELECT EXISTS (SELECT 1 FROM chat) AS written
    `.execute(db);
    return rows[0]!.written;
  }

  const { rows } = await sql<{ next_position: number }>`${chatUpdate} RETURNING next_position`.execute(db);
  if (!rows[0]) return false;
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
    .execute();
  return true;
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
 * lease, or their lease lapsed more than `graceMs` ago (their process died, and nobody has run on
 * the chat since to take it over). Returns how many were closed. The agent router calls it now
 * and then; hosts can call it from a scheduled job.
 *
 * A lease that lapsed only just may still come back: a process that stalled (or lost its
 * database for a moment) renews it, or completes, as long as nobody else took the chat. The
 * grace keeps such a run from being closed as failed while it is about to succeed.
 */
export async function expireStaleRuns(db: AnyKysely, { graceMs = 60_000 }: { graceMs?: number } = {}): Promise<number> {
  // Two statements rather than a correlated UPDATE, which pg-mem cannot run.
  const { rows } = await sql<{ id: string }>`
    SELECT run.id FROM agent_runs AS run
    JOIN agent_chats AS chat ON chat.id = run.session_id
    WHERE run.status = 'running'
      AND (chat.lease_run_id IS NULL OR chat.lease_run_id <> run.id
           OR chat.lease_expires_at <= now() - ${`${graceMs} milliseconds`}::interval)
  `.execute(db);
  if (rows.length === 0) return 0;
  const closed = await (db as AgentRouterDb)
    .updateTable('agent_runs')
    .set((eb) => ({
      status: 'failed',
      error_code: 'run_expired',
      error_message: EXPIRED_MESSAGE,
      finished_at: eb.fn('now'),
    }))
    .where('id', 'in', rows.map((row) => row.id))
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(closed.numUpdatedRows);
}
