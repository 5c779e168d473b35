import { sql } from 'kysely';
import { UserError, type AgentInputItem, type SessionHistoryTransaction } from '@openai/agents';
import { detectEngine } from '../db/engine.js';
import { decodeJsonObject, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import { isModelItem, sameJson, type ReplaceFunctionCallSnapshot } from './history-operation-args.js';
import { insertItemsAt } from './history-queries.js';

/**
 * The SQL behind `applyHistoryTransaction` and `applyHistoryMutations`: read, compare, then
 * change a session's history, as one unit.
 *
 * On PostgreSQL each call is one database transaction (or runs inside the host's, when handed a
 * transaction) that starts by locking the chat row, the lock every writer of history-queries.ts
 * takes first. Statements after the lock each see everything committed before it (READ COMMITTED
 * takes a snapshot per statement), so the comparisons are made against the history as it is, and
 * nobody can change it before the commit. In a host transaction at REPEATABLE READ or above,
 * PostgreSQL reports a serialization failure instead when another writer got there first; the
 * host retries its transaction, as it would for any such failure.
 *
 * Positions come from the chat's `next_position` and `item_count` moves by the rows inserted and
 * deleted, as everywhere else. Numbers in arithmetic are cast (`::integer`): pg-mem evaluates
 * `column - $1` with an untyped parameter as `$1 - column`.
 *
 * pg-mem cannot roll back and has no row locks, so there the same statements run one after the
 * other, with calls for one session queued in this process (pg-mem lives in one process). A
 * statement that fails half way through leaves the statements before it applied: pg-mem is for
 * demos and fast tests, not for proving atomicity.
 */

export interface ApplyHistoryTransactionArgs {
  sessionId: string;
  operationId: string;
  /** Already snapshotted and validated (see `snapshotHistoryTransactionArgs`). */
  transaction: SessionHistoryTransaction;
  agentName: string | null;
  runId: string | null;
}

/** What a call did: `'duplicate'` when the operation id had been applied already. */
export type HistoryTransactionOutcome = 'applied' | 'duplicate';

const SUFFIX_MISMATCH = 'Session history suffix no longer matches the transaction precondition.';
const REUSED_OPERATION = 'Session history operation was already applied with a different transaction.';

/**
 * Applies `transaction` once per `(sessionId, operationId)`. Throws `UserError`, changing
 * nothing, when the id was applied with a different transaction or the stored tail is not
 * `expectedSuffix`.
 */
export async function applyHistoryTransaction(
  db: AnyKysely,
  args: ApplyHistoryTransactionArgs,
): Promise<HistoryTransactionOutcome> {
  return runExclusive(db, args.sessionId, (locked) => applyLocked(locked, args));
}

async function applyLocked(
  db: AnyKysely,
  args: ApplyHistoryTransactionArgs,
): Promise<HistoryTransactionOutcome> {
  const { sessionId, operationId, transaction } = args;
  const expectedSuffix = transaction.type === 'replace_suffix' ? transaction.expectedSuffix : [];
  const newItems = transaction.type === 'replace_suffix' ? transaction.replacement : transaction.items;

  if (!(await lockChat(db, sessionId))) {
    // No chat row means no items and no recorded operations. Refuse before creating the row, so
    // that a refused call leaves no trace even inside a host transaction that goes on to commit.
    if (expectedSuffix.length > 0) throw new UserError(SUFFIX_MISMATCH);
    await sql`INSERT INTO agent_chats (id) VALUES (${sessionId}) ON CONFLICT (id) DO NOTHING`.execute(db);
    // Another writer may have created it meanwhile; either way, it is locked from here on.
    await lockChat(db, sessionId);
  }

  const { rows: recorded } = await sql<{ transaction: unknown }>`
    SELECT transaction FROM agent_history_operations
    WHERE session_id = ${sessionId} AND operation_id = ${operationId}
  `.execute(db);
  if (recorded[0]) {
    if (!sameJson(decodeJsonObject(recorded[0].transaction), transaction)) {
      throw new UserError(REUSED_OPERATION);
    }
    return 'duplicate';
  }

  let removed = 0;
  if (expectedSuffix.length > 0) {
    const { rows: tail } = await sql<{ position: number; item: unknown }>`
      SELECT position, item FROM agent_items
      WHERE session_id = ${sessionId}
      ORDER BY position DESC
      LIMIT ${expectedSuffix.length}
    `.execute(db);
    tail.reverse();
    const stored = tail.map((row) => decodeJsonObject<AgentInputItem>(row.item));
    // As MemorySession: a stored item that is not a valid ModelItem never matches.
    if (
      stored.length !== expectedSuffix.length ||
      !stored.every(isModelItem) ||
      !sameJson(stored, expectedSuffix)
    ) {
      throw new UserError(SUFFIX_MISMATCH);
    }
    // The chat lock keeps anything newer from appearing, so ">=" deletes exactly the tail read.
    const deleted = await sql`
      DELETE FROM agent_items WHERE session_id = ${sessionId} AND position >= ${tail[0]!.position}
      RETURNING position
    `.execute(db);
    removed = deleted.rows.length;
  }

  const { rows: chat } = await sql<{ next_position: number }>`
    UPDATE agent_chats
    SET item_count = item_count + ${newItems.length - removed}::integer,
        next_position = next_position + ${newItems.length}::integer,
        updated_at = now()
    WHERE id = ${sessionId}
    RETURNING next_position
  `.execute(db);
  await insertItemsAt(db, {
    sessionId,
    firstPosition: chat[0]!.next_position - newItems.length,
    json: newItems.map((item, index) => encodeJson(item, `item ${index}`)),
    agentNames: newItems.map(() => args.agentName),
    runId: args.runId,
  });
  // Last, so that on PostgreSQL the id is committed with the change or not at all.
  await (db as AgentRouterDb)
    .insertInto('agent_history_operations')
    .values({
      session_id: sessionId,
      operation_id: operationId,
      transaction: encodeJson(transaction, 'transaction'),
    })
    .execute();
  return 'applied';
}

/**
 * Applies `replace_function_call` mutations in order, with the semantics of the SDK's
 * `applySessionHistoryMutations`: the first stored `function_call` with the mutation's `callId`
 * becomes the replacement (keeping its position and its agent/run stamps), later ones with that
 * `callId` are removed, and nothing happens when there is none.
 */
export async function applyHistoryMutations(
  db: AnyKysely,
  sessionId: string,
  mutations: readonly ReplaceFunctionCallSnapshot[],
): Promise<void> {
  if (mutations.length === 0) return;
  await runExclusive(db, sessionId, async (locked) => {
    // No chat row, no items: nothing to rewrite, and nothing is created.
    if (!(await lockChat(locked, sessionId))) return;
    for (const mutation of mutations) {
      const positions = await findFunctionCalls(locked, sessionId, mutation.callId);
      if (positions.length === 0) continue;
      const [keep, ...drop] = positions;
      await sql`
        UPDATE agent_items SET item = ${encodeJson(mutation.replacement, 'replacement')}
        WHERE session_id = ${sessionId} AND position = ${keep}
      `.execute(locked);
      if (drop.length === 0) continue;
      const deleted = await (locked as AgentRouterDb)
        .deleteFrom('agent_items')
        .where('session_id', '=', sessionId)
        .where('position', 'in', drop)
        .returning('position')
        .execute();
      await sql`
        UPDATE agent_chats SET item_count = item_count - ${deleted.length}::integer, updated_at = now()
        WHERE id = ${sessionId}
      `.execute(locked);
    }
  });
}

/** Positions of the session's `function_call` items with this `callId`, oldest first. */
async function findFunctionCalls(db: AnyKysely, sessionId: string, callId: string): Promise<number[]> {
  const probe = encodeJson({ type: 'function_call', callId });
  // jsonb containment finds the call among ordinary items. Items with U+0000 or a lone surrogate
  // are stored as a JSON string (see item-codec.ts): those are read and decoded here. When the
  // callId itself needs that wrapping, only such items can match, and the probe is skipped.
  const candidates = await (db as AgentRouterDb)
    .selectFrom('agent_items')
    .select(['position', 'item'])
    .where('session_id', '=', sessionId)
    .where((eb) =>
      probe.startsWith('{')
        ? eb.or([sql<boolean>`item @> ${probe}::jsonb`, sql<boolean>`item::text LIKE '"%'`])
        : sql<boolean>`item::text LIKE '"%'`,
    )
    .orderBy('position', 'asc')
    .execute();
  return candidates
    .filter((row) => {
      const item = decodeJsonObject<{ type?: unknown; callId?: unknown }>(row.item);
      return item.type === 'function_call' && item.callId === callId;
    })
    .map((row) => row.position);
}

/** Locks the chat row until the end of the transaction; false when the chat does not exist. */
async function lockChat(db: AnyKysely, sessionId: string): Promise<boolean> {
  const { rows } = await sql`SELECT id FROM agent_chats WHERE id = ${sessionId} FOR UPDATE`.execute(db);
  return rows.length > 0;
}

/**
 * Runs `fn` as one unit of work on the session: in a transaction on PostgreSQL (the host's, when
 * `db` is one), queued behind other history operations on the same session on pg-mem.
 */
async function runExclusive<T>(
  db: AnyKysely,
  sessionId: string,
  fn: (db: AnyKysely) => Promise<T>,
): Promise<T> {
  const { postgres } = await detectEngine(db);
  if (postgres) return db.isTransaction ? fn(db) : db.transaction().execute(fn);
  return queued(db, sessionId, () => fn(db));
}

/** Per database handle and session, the tail of the queue of pending history operations. */
const queues = new WeakMap<object, Map<string, Promise<unknown>>>();

function queued<T>(db: AnyKysely, sessionId: string, fn: () => Promise<T>): Promise<T> {
  const key = db.getExecutor().adapter;
  let sessions = queues.get(key);
  if (!sessions) queues.set(key, (sessions = new Map()));
  const previous = sessions.get(sessionId) ?? Promise.resolve();
  const result = previous.then(fn, fn);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  sessions.set(sessionId, tail);
  // Forget the queue once it drains, so that the map holds only sessions with work in flight.
  void tail.then(() => {
    if (sessions.get(sessionId) === tail) sessions.delete(sessionId);
  });
  return result;
}
