import { sql, type RawBuilder } from 'kysely';
import { detectEngine } from '../db/engine.js';
import { encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import type { AgentInputItem } from '@openai/agents';
import { decodeItemArray, insertItemsAt, jsonArray, newestItemsArray, type EncodedItems } from '../session/history-queries.js';
import { insertEventRows, insertEventsFrom, lastEventId, type EncodedEvent } from './event-queries.js';
import { reportClosedRuns } from './run-hooks.js';

/**
 * The SQL of a run's life: take the chat's lease and record the run (with its first event), then,
 * when the run ends, write everything at once: the history changes of its turn, the chat's
 * counters and tokens, the run's end, its last events, and the lease's release. On PostgreSQL
 * each of these is one statement, and the first also reads the history the run starts with, so a
 * run costs two round trips (plus one per batch of events while a streamed run goes on). On
 * pg-mem (no data-modifying WITH) each runs as a few single statements.
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
  /** The prefix of the agent router the run starts on. */
  prefix: string;
  streamed: boolean;
  background: boolean;
  /** The caller's input, encoded for a jsonb parameter (see encodeTaggedJson). */
  input: string;
  leaseTtlMs: number;
  /** The run's first event (`run.started`), recorded with the run. */
  firstEvent: EncodedEvent;
  /**
   * How many of the newest items the run will read first (every one when undefined): read by
   * the statement that takes the lease, so that the run needs no statement of its own for them.
   */
  historyCount?: number | undefined;
}

/** The newest items of a chat's history, as the statement that took the lease read them. */
export interface StartHistory {
  items: AgentInputItem[];
  /** True when `items` is the whole history. */
  complete: boolean;
}

/** A run's session state as the statement that started it read it (JSON values from jsonb). */
export interface LoadedState {
  state: unknown;
  userState: unknown;
  /** The history the run starts with, when the statement could read it (PostgreSQL only). */
  history?: StartHistory;
}

export type StartResult =
  | ({ outcome: 'started' } & LoadedState)
  | { outcome: 'busy'; retryAfterMs: number; holderRunId: string | null }
  | { outcome: 'approval_pending'; pendingRunId: string }
  | { outcome: 'not_found' };

export const EXPIRED_MESSAGE = 'The run stopped without finishing (its process ended); its lease expired.';

/** Creates a chat for the caller, holding the lease for the run, and records the run. */
export async function startRunOnNewChat(
  db: AnyKysely,
  args: StartRunArgs & { chatId: string; title: string | null; state: string },
): Promise<LoadedState> {
  const ttl = `${args.leaseTtlMs} milliseconds`;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ user_state: unknown }>`
      WITH chat AS (
        INSERT INTO agent_chats (id, user_id, title, state, lease_run_id, lease_expires_at)
        VALUES (${args.chatId}, ${args.userId}, ${args.title}, ${args.state}::jsonb, ${args.runId}, now() + ${ttl}::interval)
        RETURNING id
      ), run AS (
        ${insertRunFrom(args, args.chatId, sql`chat`)}
        RETURNING id
      ), event AS (
        ${insertEventsFrom(args.runId, [args.firstEvent], sql`run`)}
      )
      SELECT ${userStateOf(args.userId)} AS user_state
    `.execute(db);
    // A new chat holds no items (they reference it): nothing to read.
    return { state: JSON.parse(args.state), userState: rows[0]?.user_state ?? null, history: { items: [], complete: true } };
  }
  await sql`
    INSERT INTO agent_chats (id, user_id, title, state, lease_run_id, lease_expires_at)
    VALUES (${args.chatId}, ${args.userId}, ${args.title}, ${args.state}::jsonb, ${args.runId}, now() + ${ttl}::interval)
  `.execute(db);
  await insertRun(db, { ...args, chatId: args.chatId });
  return { state: JSON.parse(args.state), userState: await readUserState(db, args.userId) };
}

/**
 * The user's state in a query of its own: pg-mem answers a scalar subquery of a jsonb column
 * with an array of the value, so its paths read it this way.
 */
export async function readUserState(db: AnyKysely, userId: string): Promise<unknown> {
  const row = await (db as AgentRouterDb).selectFrom('agent_user_state').select('state').where('user_id', '=', userId).executeTakeFirst();
  return row?.state ?? null;
}

/** The user's state, as a subquery (null for a user who has none). */
function userStateOf(userId: string) {
  return sql`(SELECT state FROM agent_user_state WHERE user_id = ${userId})`;
}

/**
 * Takes the lease of a chat for a new run and records the run, unless another live run holds it
 * or a run on the chat waits for a tool approval. A lease whose holder let it expire (its
 * process died) is taken over, and that holder's run, if still marked running, is closed as
 * expired. With `ownerId`, only a chat of that owner is found (the default store's rule); with
 * `null` the caller was admitted already.
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
        SELECT id, lease_run_id, lease_expires_at, pending_run_id, state, xmin FROM agent_chats
        WHERE id = ${args.chatId} ${ownedBy(args.ownerId)}
        FOR UPDATE
      ), lease AS (
        UPDATE agent_chats AS chat
        SET lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
        FROM previous
        WHERE chat.id = previous.id AND chat.pending_run_id IS NULL
          AND (chat.lease_run_id IS NULL OR chat.lease_expires_at <= now())
        RETURNING previous.lease_run_id AS previous_run_id
      ), run AS (
        ${insertRunFrom(args, args.chatId, sql`lease`)}
        RETURNING id
      ), event AS (
        ${insertEventsFrom(args.runId, [args.firstEvent], sql`run`)}
      )
      SELECT EXISTS (SELECT 1 FROM lease) AS acquired,
             EXISTS (SELECT 1 FROM previous) AS exists,
             (SELECT previous_run_id FROM lease) AS previous_run_id,
             (SELECT lease_expires_at FROM previous) AS lease_expires_at,
             (SELECT lease_run_id FROM previous) AS lease_run_id,
             (SELECT pending_run_id FROM previous) AS pending_run_id,
             (SELECT state FROM previous) AS state,
             ${userStateOf(args.userId)} AS user_state,
             ${historyIfCurrent(args)} AS history,
             now() AS now
    `.execute(db);
    return afterStart(db, rows[0]!, args.historyCount);
  }

  const chat = await sql<{ lease_run_id: string | null; lease_expires_at: Date | null; pending_run_id: string | null; state: unknown }>`
    SELECT lease_run_id, lease_expires_at, pending_run_id, state
    FROM agent_chats WHERE id = ${args.chatId} ${ownedBy(args.ownerId)}
  `
    .execute(db)
    .then((result) => result.rows[0]);
  if (!chat) return { outcome: 'not_found' };
  const { rows } = await sql<{ id: string }>`
    UPDATE agent_chats SET lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
    WHERE id = ${args.chatId} AND pending_run_id IS NULL AND (lease_run_id IS NULL OR lease_expires_at <= now())
    RETURNING id
  `.execute(db);
  if (rows.length > 0) await insertRun(db, { ...args, chatId: args.chatId });
  return afterStart(db, {
    acquired: rows.length > 0,
    exists: true,
    previous_run_id: rows.length > 0 ? chat.lease_run_id : null,
    lease_expires_at: chat.lease_expires_at,
    lease_run_id: chat.lease_run_id,
    pending_run_id: chat.pending_run_id,
    state: chat.state,
    user_state: rows.length > 0 ? await readUserState(db, args.userId) : null,
    now: new Date(),
  });
}

/**
 * The history the new run starts with, read in the statement that takes its lease. That
 * statement's snapshot may predate a write committed while it waited for the chat's lock (the
 * previous run's turn): the history is only read when the chat row the snapshot sees is the
 * version the lock got (same `xmin`), that is when no writer changed the chat in between (every
 * writer of items updates the chat row, for its counters). Otherwise it is null, and the run
 * reads its history in a statement of its own, as before.
 */
function historyIfCurrent(args: StartRunArgs & { chatId: string }) {
  return sql`
    CASE WHEN EXISTS (SELECT 1 FROM lease)
          AND (SELECT xmin FROM previous) = (SELECT xmin FROM agent_chats WHERE id = ${args.chatId})
         THEN ${newestItemsArray(args.chatId, args.historyCount)} END
  `;
}

/** The owner condition of a chat lookup: none when the host's store already admitted the caller. */
function ownedBy(ownerId: string | null) {
  return ownerId === null ? sql`` : sql`AND user_id = ${ownerId}`;
}

interface StartRow {
  acquired: boolean;
  exists: boolean;
  previous_run_id: string | null;
  lease_expires_at: Date | null;
  lease_run_id: string | null;
  pending_run_id: string | null;
  state: unknown;
  user_state: unknown;
  /** The newest items, when read (see historyIfCurrent). */
  history?: unknown;
  now: Date;
}

async function afterStart(db: AnyKysely, row: StartRow, historyCount?: number): Promise<StartResult> {
  if (row.acquired) {
    // The lease was taken over from a run whose process stopped renewing it: close that run
    // (with its terminal event, in a statement of its own that sees all it had recorded).
    if (row.previous_run_id) await expireStaleRuns(db, { runIds: [row.previous_run_id], graceMs: 0 });
    const started: StartResult & LoadedState = { outcome: 'started', state: row.state, userState: row.user_state };
    if (row.history !== null && row.history !== undefined) {
      const items = decodeItemArray(row.history);
      started.history = { items, complete: historyCount === undefined || items.length < historyCount };
    }
    return started;
  }
  if (!row.exists) return { outcome: 'not_found' };
  if (row.pending_run_id) return { outcome: 'approval_pending', pendingRunId: row.pending_run_id };
  // Taken between our snapshot and our lock, or held: retry around when it lapses.
  const left = row.lease_expires_at ? new Date(row.lease_expires_at).getTime() - new Date(row.now).getTime() : 0;
  return { outcome: 'busy', retryAfterMs: Math.max(left, 0), holderRunId: row.lease_run_id };
}

function insertRunFrom(args: StartRunArgs, chatId: string, source: RawBuilder<unknown>) {
  return sql`
    INSERT INTO agent_runs (id, session_id, user_id, agent_name, prefix, streamed, background, lease_ttl_ms, input)
    SELECT ${args.runId}::uuid, ${chatId}, ${args.userId}, ${args.agentName}, ${args.prefix}, ${args.streamed},
           ${args.background}, ${args.leaseTtlMs}::integer, ${args.input}::jsonb
    FROM ${source}
  `;
}

async function insertRun(db: AnyKysely, args: StartRunArgs & { chatId: string }): Promise<void> {
  await (db as AgentRouterDb)
    .insertInto('agent_runs')
    .values({
      id: args.runId,
      session_id: args.chatId,
      user_id: args.userId,
      agent_name: args.agentName,
      prefix: args.prefix,
      streamed: args.streamed,
      background: args.background,
      lease_ttl_ms: args.leaseTtlMs,
      input: args.input,
    })
    .execute();
  await insertEventRows(db, args.runId, [args.firstEvent]);
}

/** Creates the caller's chat under a given id if no chat has it (`autoCreateChats`). */
export async function createChatIfMissing(
  db: AnyKysely,
  chatId: string,
  userId: string,
  title: string | null,
  state: string,
): Promise<void> {
  await (db as AgentRouterDb)
    .insertInto('agent_chats')
    .values({ id: chatId, user_id: userId, title, state })
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

/** How a run that writes a turn ends: completed, cancelled (keeping what was said), or waiting. */
export type TurnEnd =
  | { status: 'completed'; finalOutput: string }
  | { status: 'cancelled'; errorCode: string; errorMessage: string }
  | { status: 'awaiting_approval'; runState: string; pendingApprovals: string };

export interface FinishRunArgs {
  chatId: string;
  runId: string;
  end: TurnEnd;
  /** Clear the stored history before adding `items` (the runner replaced it: a compaction). */
  cleared: boolean;
  /** Positions of stored items the run removed (popped). */
  removed: readonly number[];
  items: EncodedItems;
  /** The agent that produced each item, in the same order. */
  itemAgents: (string | null)[];
  /** The agent that answered (after any handoff). */
  lastAgentName: string;
  usage: Usage;
  durationMs: number;
  /** The run's tool calls and failures by tool name so far, JSON (`agent_runs.tool_calls`). */
  toolCalls: string;
  /** The run's events not yet recorded, its terminal event last. */
  events: readonly EncodedEvent[];
  /** The run's changes to the session state, written with its turn; none when undefined. */
  state?: StateWrite;
}

/** Session state changes, encoded for the statement that writes a turn. */
export interface StateWrite {
  userId: string;
  /** The chat's whole new state (JSON), when it changed. */
  chat: string | undefined;
  /** The user keys set (a JSON object), and deleted: merged key by key into the user's state. */
  userSet: string;
  userDeleted: readonly string[];
}

/** Whether a run's turn was written, and if not, whether its chat still exists. */
export type FinishResult = 'written' | 'lease_lost' | 'chat_deleted';

/**
 * Writes a run's whole turn and how it ended in one statement: the history changes it made (a
 * clear, popped items, its new items), the chat's counters, tokens and last agent, the run's
 * status, its last events, and the lease's release (a run that waits for an approval marks the
 * chat as waiting instead). Nothing is written unless the run is still `running` and still holds
 * the lease: a run whose lease was taken over, or that was closed meanwhile, must not interleave
 * its turn with anyone else's.
 */
export async function finishRunWithTurn(db: AnyKysely, args: FinishRunArgs): Promise<FinishResult> {
  const count = args.items.json.length;
  const removing = args.cleared || args.removed.length > 0;
  const { end } = args;
  const runEnd = sql`
    status = ${end.status},
    final_output = ${end.status === 'completed' ? sql`${end.finalOutput}::jsonb` : sql`NULL`},
    error_code = ${end.status === 'cancelled' ? end.errorCode : null},
    error_message = ${end.status === 'cancelled' ? end.errorMessage : null},
    run_state = ${end.status === 'awaiting_approval' ? end.runState : null},
    pending_approvals = ${end.status === 'awaiting_approval' ? sql`${end.pendingApprovals}::jsonb` : sql`NULL`},
    waiting_since = ${end.status === 'awaiting_approval' ? sql`now()` : sql`NULL`},
    last_agent_name = ${args.lastAgentName},
    item_count = item_count + ${count}::integer,
    requests = requests + ${args.usage.requests}::integer,
    input_tokens = input_tokens + ${args.usage.inputTokens}::bigint,
    output_tokens = output_tokens + ${args.usage.outputTokens}::bigint,
    total_tokens = total_tokens + ${args.usage.totalTokens}::bigint,
    finished_at = ${end.status === 'awaiting_approval' ? sql`NULL` : sql`now()`},
    duration_ms = coalesce(duration_ms, 0) + ${args.durationMs}::integer,
    tool_calls = ${args.toolCalls}::jsonb
  `;
  const pendingRun = end.status === 'awaiting_approval' ? sql`${args.runId}::uuid` : sql`NULL`;
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
            pending_run_id = ${pendingRun},
            ${chatStateUpdate(args.state)}
            updated_at = now()
        WHERE id = ${args.chatId} AND lease_run_id = ${args.runId}
          AND EXISTS (SELECT 1 FROM agent_runs WHERE id = ${args.runId} AND status = 'running')
        RETURNING id, next_position
      ), user_state AS (
        ${userStateUpsert(args.state, sql`chat`)}
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
        UPDATE agent_runs SET ${runEnd}
        WHERE id = ${args.runId} AND status = 'running' AND EXISTS (SELECT 1 FROM chat)
        RETURNING id
      ), events AS (
        ${insertEventsFrom(args.runId, args.events, sql`run`)}
      )
      SELECT EXISTS (SELECT 1 FROM chat) AS written,
             EXISTS (SELECT 1 FROM agent_chats WHERE id = ${args.chatId}) AS chat_exists
    `.execute(db);
    return finishResult(rows[0]!);
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
        pending_run_id = ${pendingRun},
        ${chatStateUpdate(args.state)}
        updated_at = now()
    WHERE id = ${args.chatId} AND lease_run_id = ${args.runId}
      AND EXISTS (SELECT 1 FROM agent_runs WHERE id = ${args.runId} AND status = 'running')
    RETURNING next_position
  `.execute(db);
  if (!rows[0]) {
    const chat = await (db as AgentRouterDb).selectFrom('agent_chats').select('id').where('id', '=', args.chatId).executeTakeFirst();
    return finishResult({ written: false, chat_exists: chat !== undefined });
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
  await sql`UPDATE agent_runs SET ${runEnd} WHERE id = ${args.runId} AND status = 'running'`.execute(db);
  await insertEventRows(db, args.runId, args.events);
  if (args.state) await mergeUserStateInJs(db, args.state);
  return 'written';
}

/** The chat state's new value, in the UPDATE of the chat that writes a turn. */
function chatStateUpdate(state: StateWrite | undefined) {
  return state?.chat === undefined ? sql`` : sql`state = ${state.chat}::jsonb, state_version = state_version + 1,`;
}

/**
 * Merges the run's user keys into the user's state, key by key (`||`, then `-` for deletions),
 * so that runs on two chats of one user at once both land theirs. Only with the turn: `source`
 * yields a row when the turn was written. PostgreSQL only.
 */
function userStateUpsert(state: StateWrite | undefined, source: RawBuilder<unknown>) {
  if (!state || (state.userSet === '{}' && state.userDeleted.length === 0)) return sql`SELECT 1`;
  return sql`
    INSERT INTO agent_user_state (user_id, state, version)
    SELECT ${state.userId}, ${state.userSet}::jsonb - ${[...state.userDeleted]}::text[], 1 FROM ${source} AS written
    ON CONFLICT (user_id) DO UPDATE
      SET state = (agent_user_state.state || excluded.state) - ${[...state.userDeleted]}::text[],
          version = agent_user_state.version + 1,
          updated_at = now()
  `;
}

/** pg-mem cannot merge jsonb (its || concatenates text): read, merge here, write. One process. */
async function mergeUserStateInJs(db: AnyKysely, state: StateWrite): Promise<void> {
  const set = JSON.parse(state.userSet) as Record<string, unknown>;
  if (Object.keys(set).length === 0 && state.userDeleted.length === 0) return;
  const row = await (db as AgentRouterDb).selectFrom('agent_user_state').select(['state']).where('user_id', '=', state.userId).executeTakeFirst();
  const merged: Record<string, unknown> = { ...(row ? decodeStored<Record<string, unknown>>(row.state) : {}), ...set };
  for (const key of state.userDeleted) delete merged[key];
  const json = encodeJson(merged, 'user state');
  if (row) {
    await sql`UPDATE agent_user_state SET state = ${json}::jsonb, version = version + 1, updated_at = now() WHERE user_id = ${state.userId}`.execute(db);
  } else {
    await sql`INSERT INTO agent_user_state (user_id, state, version) VALUES (${state.userId}, ${json}::jsonb, 1)`.execute(db);
  }
}

function finishResult(row: { written: boolean; chat_exists: boolean }): FinishResult {
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
  /** The run's tool calls and failures by tool name so far, JSON (`agent_runs.tool_calls`). */
  toolCalls: string;
  /** The run's events not yet recorded, its terminal event last. */
  events: readonly EncodedEvent[];
}

/**
 * Records a run that ended without a turn to store (failed): nothing is added to the
 * conversation, the tokens it spent count on the chat, its last events are written, and the
 * lease is released if the run still holds it. Only a run still marked running is changed, so a
 * retry after a lost reply, or a call after the run was completed or closed as expired, counts
 * nothing twice and writes no second terminal event.
 */
export async function endRunWithoutTurn(db: AnyKysely, args: EndRunArgs): Promise<boolean> {
  const { postgres } = await detectEngine(db);
  const endRun = sql`
    UPDATE agent_runs
    SET status = ${args.status}, error_code = ${args.errorCode}, error_message = ${args.errorMessage},
        last_agent_name = ${args.lastAgentName}, requests = requests + ${args.usage.requests}::integer,
        input_tokens = input_tokens + ${args.usage.inputTokens}::bigint,
        output_tokens = output_tokens + ${args.usage.outputTokens}::bigint,
        total_tokens = total_tokens + ${args.usage.totalTokens}::bigint, finished_at = now(),
        duration_ms = coalesce(duration_ms, 0) + ${args.durationMs}::integer, tool_calls = ${args.toolCalls}::jsonb
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
    const { rows } = await sql<{ ended: boolean }>`
      WITH chat AS (
        SELECT id FROM agent_chats WHERE id = ${args.chatId} FOR UPDATE
      ), run AS (
        ${endRun} AND session_id = (SELECT id FROM chat) RETURNING id
      ), events AS (
        ${insertEventsFrom(args.runId, args.events, sql`run`)}
      )
      ${endOnChat(sql<boolean>`EXISTS (SELECT 1 FROM run)`)}
      RETURNING EXISTS (SELECT 1 FROM run) AS ended
    `.execute(db);
    return rows[0]?.ended === true;
  }
  const { rows } = await sql`${endRun} RETURNING 1`.execute(db);
  await endOnChat(sql<boolean>`${rows.length > 0}`).execute(db);
  if (rows.length > 0) await insertEventRows(db, args.runId, args.events);
  return rows.length > 0;
}

/**
 * Closes runs still marked running that can no longer finish: another run holds their chat's
 * lease, nobody does, or their lease lapsed more than the grace ago (their process died, and
 * nobody has run on the chat since to take it over). Each gets its terminal event (`run.failed`,
 * `run_expired`) and goes to the `onRunFinish` hook of this process's router on its prefix.
 * Returns how many were closed. The agent router calls it now and then; hosts can call it from a
 * scheduled job; followers of a run call it for that run.
 *
 * The grace is `graceMs`, or else twice the lease time the run was started with: a lease that
 * lapsed only just may still come back (a process that stalled, or lost its database for a
 * moment, renews it or completes, as long as nobody else took the chat), and the grace keeps such
 * a run from being closed while it is about to succeed.
 *
 * On PostgreSQL the runs are closed in one transaction of two statements. The first locks their
 * chats, as every writer does first (a run that renews its lease meanwhile is re-checked after the
 * renewal and left alone), closes the runs and releases their leases, so they can neither
 * complete nor record more events. The second writes each one's terminal event after all the
 * events it had recorded (a statement of its own, so that it sees those committed while the first
 * waited for its locks); followers see the close and the terminal event at once, at commit.
 */
export async function expireStaleRuns(
  db: AnyKysely,
  options: { graceMs?: number; runIds?: readonly string[] } = {},
): Promise<number> {
  const grace =
    options.graceMs === undefined
      ? sql`(2 * coalesce(run.lease_ttl_ms, 30000)) * interval '1 millisecond'`
      : sql`${`${options.graceMs} milliseconds`}::interval`;
  const only = options.runIds ? sql`AND run.id = ANY(${[...options.runIds]}::uuid[])` : sql``;
  const terminal = encodeJson({ error: { code: 'run_expired', message: EXPIRED_MESSAGE } }, 'event');
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const close = async (trx: AnyKysely) => {
      const { rows } = await sql<{ id: string }>`
        WITH stale AS (
          SELECT run.id AS run_id, chat.id AS chat_id FROM agent_runs AS run
          JOIN agent_chats AS chat ON chat.id = run.session_id
          WHERE run.status = 'running' ${only}
            AND (chat.lease_run_id IS DISTINCT FROM run.id OR chat.lease_expires_at <= now() - ${grace})
          FOR UPDATE OF chat
        ), released AS (
          UPDATE agent_chats SET lease_run_id = NULL, lease_expires_at = NULL
          WHERE id IN (SELECT chat_id FROM stale) AND lease_run_id IN (SELECT run_id FROM stale)
        )
        UPDATE agent_runs
        SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
        WHERE id IN (SELECT run_id FROM stale) AND status = 'running'
        RETURNING id
      `.execute(trx);
      const ids = rows.map((row) => row.id);
      if (ids.length === 0) return ids;
      await sql`
        INSERT INTO agent_run_events (run_id, id, event, data)
        SELECT closed.id, coalesce((SELECT max(id) FROM agent_run_events WHERE run_id = closed.id), 0) + 1,
               'run.failed', ${terminal}::jsonb
        FROM unnest(${ids}::uuid[]) AS closed(id)
      `.execute(trx);
      return ids;
    };
    const closed = db.isTransaction ? await close(db) : await db.transaction().execute(close);
    reportClosedRuns(db, closed);
    return closed.length;
  }
  // pg-mem has no row locks and cannot run the statements above (nor multiply an interval); it
  // runs one statement at a time in one process, and each UPDATE below repeats the conditions,
  // so that what it closes is still stale.
  const { rows: candidates } = await sql<{
    id: string;
    session_id: string;
    lease_run_id: string | null;
    lease_expires_at: Date | null;
    lease_ttl_ms: number | null;
    now: Date;
  }>`
    SELECT run.id, run.session_id, chat.lease_run_id, chat.lease_expires_at, run.lease_ttl_ms, now() AS now
    FROM agent_runs AS run
    JOIN agent_chats AS chat ON chat.id = run.session_id
    WHERE run.status = 'running' ${only}
  `.execute(db);
  const rows = candidates.flatMap((row) => {
    const graceMs = options.graceMs ?? 2 * (row.lease_ttl_ms ?? 30_000);
    const lapsed =
      row.lease_expires_at !== null && new Date(row.lease_expires_at).getTime() <= new Date(row.now).getTime() - graceMs;
    return row.lease_run_id !== row.id || lapsed ? [{ ...row, lapsed }] : [];
  });
  const closed: string[] = [];
  for (const row of rows) {
    if (row.lapsed) {
      await sql`
        UPDATE agent_chats SET lease_run_id = NULL, lease_expires_at = NULL
        WHERE id = ${row.session_id} AND lease_run_id = ${row.id}
      `.execute(db);
    }
    // Closed only if the run does not hold its chat's lease (any more): it was not renewed meanwhile.
    const { rows: done } = await sql`
      UPDATE agent_runs
      SET status = 'failed', error_code = 'run_expired', error_message = ${EXPIRED_MESSAGE}, finished_at = now()
      WHERE id = ${row.id} AND status = 'running'
        AND NOT EXISTS (SELECT 1 FROM agent_chats WHERE id = ${row.session_id} AND lease_run_id = ${row.id})
      RETURNING id
    `.execute(db);
    if (done.length === 0) continue;
    await insertEventRows(db, row.id, [{ id: (await lastEventId(db, row.id)) + 1, event: 'run.failed', data: terminal }]);
    closed.push(row.id);
  }
  reportClosedRuns(db, closed);
  return closed.length;
}

/** A pending approval as stored in `agent_runs.pending_approvals`. */
export interface StoredApproval {
  call_id: string;
  tool_name: string;
  arguments: string;
  agent_name: string;
  /** The call's item type (`function_call`, `shell_call`...). */
  type: string;
}

export interface CloseWaitingRunArgs {
  chatId: string;
  runId: string;
  status: 'cancelled' | 'failed';
  errorCode: string;
  errorMessage: string;
  /** What the model is told each closed call answered (it did not run). */
  callOutput: string;
}

/**
 * Closes a run that waits for tool approvals (cancelled, or failed when nobody decided in time):
 * each waiting function call gets an output saying it did not run (so the history never holds a
 * call without its output), the chat is free again, and the run gets its terminal event, all in
 * one statement, and it goes to the `onRunFinish` hook of this process's router on its prefix.
 * False when the run was not waiting (any more): decided, or closed meanwhile.
 */
export async function closeWaitingRun(db: AnyKysely, args: CloseWaitingRunArgs): Promise<boolean> {
  const run = await (db as AgentRouterDb)
    .selectFrom('agent_runs')
    .select(['pending_approvals', 'status'])
    .where('id', '=', args.runId)
    .where('session_id', '=', args.chatId)
    .executeTakeFirst();
  if (!run || run.status !== 'awaiting_approval') return false;
  const approvals = (decodeStored<StoredApproval[]>(run.pending_approvals) ?? []).filter(
    (approval) => approval.type === 'function_call',
  );
  const items = approvals.map((approval) =>
    encodeJson(
      {
        type: 'function_call_result',
        name: approval.tool_name,
        callId: approval.call_id,
        status: 'completed',
        output: { type: 'text', text: args.callOutput },
      },
      'item',
    ),
  );
  const agents = approvals.map((approval) => approval.agent_name);
  const count = items.length;
  const terminal = encodeJson({ error: { code: args.errorCode, message: args.errorMessage } }, 'event');
  const event = args.status === 'cancelled' ? 'run.cancelled' : 'run.failed';
  const runEnd = sql`
    status = ${args.status}, error_code = ${args.errorCode}, error_message = ${args.errorMessage},
    run_state = NULL, waiting_since = NULL, finished_at = now(), item_count = item_count + ${count}::integer
  `;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ closed: boolean }>`
      WITH chat AS (
        UPDATE agent_chats
        SET pending_run_id = NULL, item_count = item_count + ${count}::integer,
            next_position = next_position + ${count}::integer, updated_at = now()
        WHERE id = ${args.chatId} AND pending_run_id = ${args.runId}
        RETURNING id, next_position
      ), items AS (
        INSERT INTO agent_items (session_id, position, item, agent_name, run_id)
        SELECT chat.id, chat.next_position - ${count} + new.ordinality::integer - 1, new.value,
               (${JSON.stringify(agents)}::jsonb ->> (new.ordinality::integer - 1)), ${args.runId}::uuid
        FROM chat, jsonb_array_elements(${jsonArray({ json: items })}::jsonb) WITH ORDINALITY AS new
      ), run AS (
        UPDATE agent_runs SET ${runEnd}
        WHERE id = ${args.runId} AND status = 'awaiting_approval' AND EXISTS (SELECT 1 FROM chat)
        RETURNING id
      ), events AS (
        INSERT INTO agent_run_events (run_id, id, event, data)
        SELECT run.id, (SELECT coalesce(max(id), 0) + 1 FROM agent_run_events WHERE run_id = ${args.runId}),
               ${event}, ${terminal}::jsonb
        FROM run
      )
      SELECT EXISTS (SELECT 1 FROM run) AS closed
    `.execute(db);
    if (rows[0]!.closed) reportClosedRuns(db, [args.runId]);
    return rows[0]!.closed;
  }
  const { rows } = await sql<{ next_position: number }>`
    UPDATE agent_chats
    SET pending_run_id = NULL, item_count = item_count + ${count}::integer,
        next_position = next_position + ${count}::integer, updated_at = now()
    WHERE id = ${args.chatId} AND pending_run_id = ${args.runId}
    RETURNING next_position
  `.execute(db);
  if (!rows[0]) return false;
  await insertItemsAt(db, {
    sessionId: args.chatId,
    firstPosition: rows[0].next_position - count,
    json: items,
    agentNames: agents,
    runId: args.runId,
  });
  await sql`UPDATE agent_runs SET ${runEnd} WHERE id = ${args.runId}`.execute(db);
  await insertEventRows(db, args.runId, [{ id: (await lastEventId(db, args.runId)) + 1, event, data: terminal }]);
  reportClosedRuns(db, [args.runId]);
  return true;
}

export interface ClaimWaitingRunArgs {
  chatId: string;
  runId: string;
  leaseTtlMs: number;
  /** The first event of the resumed stretch (`run.resumed`), without its id. */
  firstEvent: { event: string; data: string };
}

/**
 * Takes a waiting run back up for a decision: the chat's lease for it, its status back to
 * `running`, its first event of the new stretch. One caller wins: concurrent decisions on the
 * same run find it claimed and get `undefined`, as does one on a run that is not waiting (or a
 * chat another run holds). Returns the new event's id, and the session state as it is now.
 */
export async function claimWaitingRun(
  db: AnyKysely,
  args: ClaimWaitingRunArgs & { userId: string },
): Promise<({ eventId: number } & LoadedState) | undefined> {
  const ttl = `${args.leaseTtlMs} milliseconds`;
  const runUpdate = sql`
    status = 'running', run_state = NULL, pending_approvals = NULL, waiting_since = NULL,
    cancel_requested_at = NULL, lease_ttl_ms = ${args.leaseTtlMs}::integer
  `;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    const { rows } = await sql<{ event_id: number | null; state: unknown; user_state: unknown }>`
      WITH chat AS (
        UPDATE agent_chats SET pending_run_id = NULL, lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
        WHERE id = ${args.chatId} AND pending_run_id = ${args.runId}
          AND (lease_run_id IS NULL OR lease_expires_at <= now())
        RETURNING id, state
      ), run AS (
        UPDATE agent_runs SET ${runUpdate}
        WHERE id = ${args.runId} AND status = 'awaiting_approval' AND EXISTS (SELECT 1 FROM chat)
        RETURNING id
      ), event AS (
        INSERT INTO agent_run_events (run_id, id, event, data)
        SELECT run.id, (SELECT coalesce(max(id), 0) + 1 FROM agent_run_events WHERE run_id = ${args.runId}),
               ${args.firstEvent.event}, ${args.firstEvent.data}::jsonb
        FROM run
        RETURNING id
      )
      SELECT (SELECT id FROM event) AS event_id, (SELECT state FROM chat) AS state, ${userStateOf(args.userId)} AS user_state
    `.execute(db);
    const row = rows[0];
    return row?.event_id ? { eventId: Number(row.event_id), state: row.state, userState: row.user_state } : undefined;
  }
  const { rows } = await sql<{ state: unknown }>`
    UPDATE agent_chats SET pending_run_id = NULL, lease_run_id = ${args.runId}, lease_expires_at = now() + ${ttl}::interval
    WHERE id = ${args.chatId} AND pending_run_id = ${args.runId} AND (lease_run_id IS NULL OR lease_expires_at <= now())
    RETURNING state
  `.execute(db);
  if (rows.length === 0) return undefined;
  await sql`UPDATE agent_runs SET ${runUpdate} WHERE id = ${args.runId} AND status = 'awaiting_approval'`.execute(db);
  const id = (await lastEventId(db, args.runId)) + 1;
  await insertEventRows(db, args.runId, [{ id, ...args.firstEvent }]);
  return { eventId: id, state: rows[0]!.state, userState: await readUserState(db, args.userId) };
}

/** Runs waiting for approval longer than `timeoutMs`: closed as failed (`approval_expired`). */
export async function expireWaitingRuns(db: AnyKysely, timeoutMs: number): Promise<number> {
  const { rows } = await sql<{ id: string; session_id: string }>`
    SELECT id, session_id FROM agent_runs
    WHERE status = 'awaiting_approval' AND waiting_since <= now() - ${`${timeoutMs} milliseconds`}::interval
    LIMIT 500
  `.execute(db);
  let closed = 0;
  for (const row of rows) {
    const done = await closeWaitingRun(db, {
      chatId: row.session_id,
      runId: row.id,
      status: 'failed',
      errorCode: 'approval_expired',
      errorMessage: 'Nobody decided the pending tool approvals in time; the run was closed.',
      callOutput: 'Nobody approved this call in time; it did not run.',
    });
    if (done) closed++;
  }
  return closed;
}

function decodeStored<T>(value: unknown): T | undefined {
  if (value === null || value === undefined) return undefined;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
