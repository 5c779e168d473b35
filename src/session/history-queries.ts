import { CompiledQuery, sql } from 'kysely';
import type { AgentInputItem } from '@openai/agents';
import { decodeJsonObject } from '../db/item-codec.js';
import { detectEngine } from '../db/engine.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';

/**
 * The SQL behind a session's history, shared by PostgresSession and the agent router.
 *
 * Concurrency rules every writer follows, so that counters stay exact and writers never
 * deadlock each other:
 * - the chat row is locked first (by the UPDATE that allocates positions, or FOR UPDATE);
 * - positions come from the chat's `next_position`, never from reading the items, because a
 *   statement's snapshot may predate items committed while it waited for the lock;
 * - `item_count` changes by exactly the number of rows the statement inserted or deleted.
 */

/** Items already encoded for a jsonb parameter (see `encodeJson`). */
export interface EncodedItems {
  /** One JSON text per item, in order. */
  readonly json: readonly string[];
}

export interface AppendItemsArgs {
  sessionId: string;
  items: EncodedItems;
  agentName: string | null;
  runId: string | null;
}

/** Appends items after the session's last one, creating the chat row when it does not exist. */
export async function appendItems(db: AnyKysely, args: AppendItemsArgs): Promise<void> {
  const count = args.items.json.length;
  if (count === 0) return;
  // Allocates the positions on the (locked) chat row: the last one is next_position - 1.
  const allocate = sql<{ next_position: number }>`
    INSERT INTO agent_chats (id, item_count, next_position)
    VALUES (${args.sessionId}, ${count}, ${count + 1})
    ON CONFLICT (id) DO UPDATE
      SET item_count = agent_chats.item_count + excluded.item_count,
          next_position = agent_chats.next_position + excluded.item_count,
          updated_at = now()
    RETURNING next_position
  `;
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // One statement: allocate the positions, then insert every item.
    await sql`
      WITH chat AS (${allocate})
      INSERT INTO agent_items (session_id, position, item, agent_name, run_id)
      SELECT ${args.sessionId}, chat.next_position - ${count} + new.ordinality::integer - 1,
             new.value, ${args.agentName}::varchar, ${args.runId}::uuid
      FROM chat, jsonb_array_elements(${jsonArray(args.items)}::jsonb) WITH ORDINALITY AS new
    `.execute(db);
    return;
  }
  const { rows } = await allocate.execute(db);
  await insertItemsAt(db, {
    sessionId: args.sessionId,
    firstPosition: rows[0]!.next_position - count,
    json: args.items.json,
    agentNames: args.items.json.map(() => args.agentName),
    runId: args.runId,
  });
}

/**
 * Inserts items at positions already allocated on the chat row, one per item from
 * `firstPosition` on: the multi-statement path (pg-mem, and history transactions).
 */
export async function insertItemsAt(
  db: AnyKysely,
  args: { sessionId: string; firstPosition: number; json: readonly string[]; agentNames: readonly (string | null)[]; runId: string | null },
): Promise<void> {
  if (args.json.length === 0) return;
  await (db as AgentRouterDb)
    .insertInto('agent_items')
    .values(
      args.json.map((item, index) => ({
        session_id: args.sessionId,
        position: args.firstPosition + index,
        item,
        agent_name: args.agentNames[index] ?? null,
        run_id: args.runId,
      })),
    )
    .execute();
}

/**
 * The most recent `limit` items, oldest first, or every item when `limit` is undefined. Reads
 * `limit` rows backwards through the primary key, whatever the length of the history.
 *
 * The statements are fixed text run as compiled queries: this is the hottest read of the
 * library, and building it with Kysely's query builder on every call cost 15 to 20% of it.
 */
const LATEST_ITEMS = 'SELECT item FROM agent_items WHERE session_id = $1 ORDER BY position DESC LIMIT $2';
const ALL_ITEMS = 'SELECT item FROM agent_items WHERE session_id = $1 ORDER BY position';

export async function readItems(
  db: AnyKysely,
  sessionId: string,
  limit?: number,
): Promise<AgentInputItem[]> {
  if (limit === undefined) {
    const { rows } = await db.executeQuery<{ item: unknown }>(CompiledQuery.raw(ALL_ITEMS, [sessionId]));
    return rows.map((row) => decodeJsonObject<AgentInputItem>(row.item));
  }
  const { rows } = await db.executeQuery<{ item: unknown }>(CompiledQuery.raw(LATEST_ITEMS, [sessionId, limit]));
  const items = new Array<AgentInputItem>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    items[rows.length - 1 - i] = decodeJsonObject<AgentInputItem>(rows[i]!.item);
  }
  return items;
}

/**
 * The newest `count` items (every one when undefined), oldest first, as one jsonb array: a
 * scalar subquery, so that a statement doing something else (taking a run's lease) reads the
 * history too. Read it back with {@link decodeItemArray}. PostgreSQL only.
 */
export function newestItemsArray(sessionId: string, count: number | undefined) {
  const newest = count === undefined ? sql`` : sql`ORDER BY position DESC LIMIT ${count}`;
  return sql<unknown>`(
    SELECT coalesce(jsonb_agg(newest.item ORDER BY newest.position), '[]'::jsonb)
    FROM (SELECT position, item FROM agent_items WHERE session_id = ${sessionId} ${newest}) AS newest
  )`;
}

/** The items of a {@link newestItemsArray} value, each decoded as a stored item. */
export function decodeItemArray(stored: unknown): AgentInputItem[] {
  return decodeJsonObject<unknown[]>(stored).map((item) => decodeJsonObject<AgentInputItem>(item));
}

/**
 * The stored item `offset` places before the newest (0: the newest), with its position, or
 * `undefined` when the session holds no more items than that.
 */
export async function readItemFromNewest(
  db: AnyKysely,
  sessionId: string,
  offset: number,
): Promise<{ position: number; item: AgentInputItem } | undefined> {
  const { rows } = await sql<{ position: number; item: unknown }>`
    SELECT position, item FROM agent_items WHERE session_id = ${sessionId}
    ORDER BY position DESC LIMIT 1 OFFSET ${offset}
  `.execute(db);
  return rows[0] && { position: Number(rows[0].position), item: decodeJsonObject<AgentInputItem>(rows[0].item) };
}

/** Removes and returns the newest item, or `undefined` when the session holds none. */
export async function popItem(db: AnyKysely, sessionId: string): Promise<AgentInputItem | undefined> {
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // The chat lock orders concurrent pops. A pop that waited may still see, in its snapshot,
    // the row the previous pop deleted: FOR UPDATE then skips it and takes the next newest.
    const { rows } = await sql<{ item: unknown }>`
      WITH chat AS (
        SELECT id FROM agent_chats WHERE id = ${sessionId} FOR UPDATE
      ), popped AS (
        DELETE FROM agent_items
        WHERE session_id = ${sessionId}
          AND position = (
            SELECT position FROM agent_items
            WHERE session_id = (SELECT id FROM chat)
            ORDER BY position DESC
            LIMIT 1
            FOR UPDATE
          )
        RETURNING item
      ), counted AS (
        UPDATE agent_chats SET item_count = item_count - 1, updated_at = now()
        WHERE id = ${sessionId} AND EXISTS (SELECT 1 FROM popped)
      )
      SELECT item FROM popped
    `.execute(db);
    return rows[0] ? decodeJsonObject<AgentInputItem>(rows[0].item) : undefined;
  }
  const { rows } = await sql<{ item: unknown }>`
    DELETE FROM agent_items
    WHERE session_id = ${sessionId}
      AND position = (SELECT max(position) FROM agent_items WHERE session_id = ${sessionId})
    RETURNING item
  `.execute(db);
  if (!rows[0]) return undefined;
  await sql`
    UPDATE agent_chats SET item_count = item_count - 1, updated_at = now() WHERE id = ${sessionId}
  `.execute(db);
  return decodeJsonObject<AgentInputItem>(rows[0].item);
}

/** Deletes every item of the session (and its record of applied history operations). */
export async function clearItems(db: AnyKysely, sessionId: string): Promise<void> {
  const { postgres } = await detectEngine(db);
  if (postgres) {
    // A cleared session starts afresh, as MemorySession's does: an operation id applied before
    // the clear applies again after it. (PostgreSQL runs a data-modifying WITH even unreferenced.)
    await sql`
      WITH chat AS (
        SELECT id FROM agent_chats WHERE id = ${sessionId} FOR UPDATE
      ), cleared AS (
        DELETE FROM agent_items WHERE session_id = (SELECT id FROM chat) RETURNING 1
      ), forgotten AS (
        DELETE FROM agent_history_operations WHERE session_id = (SELECT id FROM chat)
      )
      UPDATE agent_chats
      SET item_count = item_count - (SELECT count(*) FROM cleared), updated_at = now()
      WHERE id = ${sessionId}
    `.execute(db);
    return;
  }
  const { rows } = await sql`
    DELETE FROM agent_items WHERE session_id = ${sessionId} RETURNING position
  `.execute(db);
  // Cast: pg-mem evaluates `item_count - $1` with an untyped parameter as `$1 - item_count`.
  await sql`
    UPDATE agent_chats SET item_count = item_count - ${rows.length}::integer, updated_at = now()
    WHERE id = ${sessionId}
  `.execute(db);
  await sql`DELETE FROM agent_history_operations WHERE session_id = ${sessionId}`.execute(db);
}

/** The encoded items as one JSON array text, without re-serialising each item. */
export function jsonArray(items: EncodedItems): string {
  return `[${items.json.join(',')}]`;
}
