import { sql } from 'kysely';
import { detectEngine } from '../db/engine.js';
import { decodeJsonObject, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';

/** A chat's and its owner's session state, with the versions their ETag is made of. */
export interface StoredState {
  state: Record<string, unknown>;
  userState: Record<string, unknown>;
  chatVersion: number;
  userVersion: number;
  /** The run holding the chat now, if any (the state cannot be changed meanwhile). */
  leaseRunId: string | null;
}

/** The ETag of a state: both versions, so that a change to either is seen. */
export function stateTag(state: Pick<StoredState, 'chatVersion' | 'userVersion'>): string {
  return `"c${state.chatVersion}-u${state.userVersion}"`;
}

/** The chat's state and its user's (the caller checked the chat is theirs), or `undefined`. */
export async function readState(db: AnyKysely, chatId: string, userId: string): Promise<StoredState | undefined> {
  // Two queries rather than subqueries, which pg-mem answers wrongly for jsonb.
  const { rows } = await sql<{ state: unknown; state_version: number; lease_run_id: string | null; leased: boolean }>`
    SELECT state, state_version, lease_run_id, (lease_run_id IS NOT NULL AND lease_expires_at > now()) AS leased
    FROM agent_chats WHERE id = ${chatId}
  `.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  const user = await (db as AgentRouterDb)
    .selectFrom('agent_user_state')
    .select(['state', 'version'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return {
    state: decodeJsonObject<Record<string, unknown>>(row.state) ?? {},
    userState: (user ? decodeJsonObject<Record<string, unknown>>(user.state) : {}) ?? {},
    chatVersion: Number(row.state_version),
    userVersion: Number(user?.version ?? 0),
    leaseRunId: row.leased ? row.lease_run_id : null,
  };
}

export type WriteStateResult = 'written' | 'changed' | 'busy' | 'missing';

/**
 * Writes a chat's and its user's new state if both are still at the versions read, and no run
 * holds the chat: in one transaction on PostgreSQL that locks the chat row, then the user's, in
 * the order every run's turn takes them.
 */
export async function writeState(
  db: AnyKysely,
  args: {
    chatId: string;
    userId: string;
    expected: Pick<StoredState, 'chatVersion' | 'userVersion'>;
    state: Record<string, unknown> | undefined;
    userState: Record<string, unknown> | undefined;
  },
): Promise<WriteStateResult> {
  const write = async (trx: AnyKysely): Promise<WriteStateResult> => {
    const { rows } = await sql<{ state_version: number; leased: boolean }>`
      SELECT state_version, (lease_run_id IS NOT NULL AND lease_expires_at > now()) AS leased
      FROM agent_chats WHERE id = ${args.chatId} ${postgres ? sql`FOR UPDATE` : sql``}
    `.execute(trx);
    const chat = rows[0];
    if (!chat) return 'missing';
    if (chat.leased) return 'busy';
    const user = await (trx as AgentRouterDb)
      .selectFrom('agent_user_state')
      .select('version')
      .where('user_id', '=', args.userId)
      .$call((query) => (postgres ? query.forUpdate() : query))
      .executeTakeFirst();
    if (Number(chat.state_version) !== args.expected.chatVersion || Number(user?.version ?? 0) !== args.expected.userVersion) {
      return 'changed';
    }
    if (args.state !== undefined) {
      await sql`
        UPDATE agent_chats SET state = ${encodeJson(args.state, 'state')}::jsonb, state_version = state_version + 1
        WHERE id = ${args.chatId}
      `.execute(trx);
    }
    if (args.userState !== undefined) {
      const json = encodeJson(args.userState, 'user state');
      if (user) {
        await sql`UPDATE agent_user_state SET state = ${json}::jsonb, version = version + 1, updated_at = now() WHERE user_id = ${args.userId}`.execute(trx);
      } else {
        await sql`INSERT INTO agent_user_state (user_id, state, version) VALUES (${args.userId}, ${json}::jsonb, 1)`.execute(trx);
      }
    }
    return 'written';
  };
  const { postgres } = await detectEngine(db);
  if (!postgres || db.isTransaction) return write(db);
  return db.transaction().execute(write);
}
