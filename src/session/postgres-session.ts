import { randomUUID } from 'node:crypto';
import type {
  AgentInputItem,
  Session,
  SessionHistoryRewriteArgs,
  SessionHistoryRewriteAwareSession,
  SessionHistoryTransactionArgs,
  SessionHistoryTransactionAwareSession,
} from '@openai/agents';
import { encodeJson } from '../db/item-codec.js';
import type { AnyKysely } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { snapshotHistoryMutations, snapshotHistoryTransactionArgs } from './history-operation-args.js';
import { applyHistoryMutations, applyHistoryTransaction } from './history-operation-queries.js';
import { appendItems, clearItems, popItem, readItems } from './history-queries.js';
import { assertValidId } from './session-id.js';

export interface PostgresSessionOptions {
  /**
   * The database, as a Kysely instance (or a transaction) whose schema has been migrated with
   * `migrate(db)`. The session never opens or closes connections itself.
   */
  db: AnyKysely;
  /**
   * The session (chat) id: any non-empty string of up to 255 characters. Defaults to a new UUID.
   */
  sessionId?: string;
  /** Stamped on every item this session writes, to tell which agent produced it. */
  agentName?: string;
  /** Stamped on every item this session writes: the `agent_runs` id (a UUID) of the run. */
  runId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The Agents SDK `Session` on PostgreSQL.
 *
 * ```ts
 * import { Agent, run } from '@openai/agents';
 * import { PostgresSession, migrate } from 'express-agent-router';
 *
 * await migrate(db);
 * const session = new PostgresSession({ db, sessionId: 'chat-42' });
 * await run(agent, 'Hello!', { session });
 * ```
 *
 * A drop-in for the SDK's `MemorySession`: besides the five `Session` methods it has the same
 * optional abilities, `applyHistoryTransaction` and `applyHistoryMutations`, so the runner treats
 * both alike (with only the five methods, an output guardrail that trips after a tool ran would
 * keep less history than MemorySession does). The deliberate differences, each a clear error
 * where MemorySession would go on: `getItems` refuses a limit that is not an integer;
 * `applyHistoryTransaction` refuses values JSON cannot hold exactly (NaN, bytes) and operation
 * ids over 255 characters; `applyHistoryMutations` refuses a mutation type it does not know.
 *
 * The basic methods are each a single statement (atomic on its own), so a session object is
 * cheap: create one per request. Items of one `addItems` call are stored contiguously and in
 * order, even when other clients write to the same session at the same time.
 *
 * It does not implement `RunContextAwareSession` (`acceptsRunContext`), which MemorySession does
 * not either: the run context carries neither the agent nor the run id, the two things worth
 * stamping on stored items, and both are constructor options here (`agentName`, `runId`), so the
 * runner would hand over an argument nothing uses.
 */
export class PostgresSession
  implements Session, SessionHistoryTransactionAwareSession, SessionHistoryRewriteAwareSession
{
  readonly #db: AnyKysely;
  readonly #sessionId: string;
  readonly #agentName: string | null;
  readonly #runId: string | null;

  constructor(options: PostgresSessionOptions) {
    if (!options || typeof options !== 'object') {
      throw new InvalidArgumentError('PostgresSession expects an options object: { db, sessionId? }.');
    }
    if (!options.db || typeof options.db.selectFrom !== 'function') {
      throw new InvalidArgumentError('PostgresSession needs `db`: a Kysely instance.');
    }
    const sessionId = options.sessionId ?? randomUUID();
    assertValidId(sessionId, 'sessionId');
    if (options.agentName !== undefined) assertValidId(options.agentName, 'agentName');
    if (options.runId !== undefined && !(typeof options.runId === 'string' && UUID.test(options.runId))) {
      throw new InvalidArgumentError('runId must be a UUID (the id of an agent_runs row).');
    }
    this.#db = options.db;
    this.#sessionId = sessionId;
    this.#agentName = options.agentName ?? null;
    this.#runId = options.runId ?? null;
  }

  async getSessionId(): Promise<string> {
    return this.#sessionId;
  }

  /**
   * The most recent `limit` items in chronological order, or every item when `limit` is
   * undefined. A limit of 0 or less returns no items; a limit that is not an integer is refused
   * (the SDK's MemorySession would slice with it).
   */
  async getItems(limit?: number): Promise<AgentInputItem[]> {
    if (limit !== undefined && !Number.isInteger(limit)) {
      throw new InvalidArgumentError(`getItems(limit): limit must be an integer, got ${String(limit)}.`);
    }
    if (limit !== undefined && limit <= 0) return [];
    return readItems(this.#db, this.#sessionId, limit);
  }

  /**
   * Appends the items after the newest one, in one statement: either all are stored or none.
   * An empty array is a no-op.
   */
  async addItems(items: AgentInputItem[]): Promise<void> {
    if (!Array.isArray(items)) {
      throw new InvalidArgumentError('addItems(items): items must be an array of AgentInputItem.');
    }
    if (items.length === 0) return;
    const json = items.map((item, index) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw new InvalidArgumentError(`addItems(items): item ${index} is not an object.`);
      }
      return encodeJson(item, `item ${index}`);
    });
    await appendItems(this.#db, {
      sessionId: this.#sessionId,
      items: { json },
      agentName: this.#agentName,
      runId: this.#runId,
    });
  }

  /** Removes and returns the newest item; `undefined` when the session is empty. */
  async popItem(): Promise<AgentInputItem | undefined> {
    return popItem(this.#db, this.#sessionId);
  }

  /**
   * Removes every item, and forgets which history operations were applied (as MemorySession
   * does). The session (and its chat, if any) stays usable.
   */
  async clearSession(): Promise<void> {
    await clearItems(this.#db, this.#sessionId);
  }

  /**
   * Applies an `append_items` or `replace_suffix` change to the history, atomically and once per
   * `operationId` (`SessionHistoryTransactionAwareSession`). The runner uses it when an output
   * guardrail trips after a tool ran, and when a later run accepts that blocked turn.
   *
   * The operation id is recorded in the same database transaction as the change, so a retry of a
   * call that committed but whose caller never heard back (a dropped connection, another
   * process) does nothing. Reusing the id with a different transaction, or a `replace_suffix`
   * whose `expectedSuffix` is not the stored tail (compared as JSON, key order aside), throws the
   * SDK's `UserError` and changes nothing. Items must be valid `protocol.ModelItem`s, as
   * MemorySession requires. When `db` is a transaction, the change joins it.
   */
  async applyHistoryTransaction(args: SessionHistoryTransactionArgs): Promise<void> {
    const { operationId, transaction } = snapshotHistoryTransactionArgs(args);
    await applyHistoryTransaction(this.#db, {
      sessionId: this.#sessionId,
      operationId,
      transaction,
      agentName: this.#agentName,
      runId: this.#runId,
    });
  }

  /**
   * Rewrites stored items (`SessionHistoryRewriteAwareSession`) with the semantics of the SDK's
   * `applySessionHistoryMutations`, in one database transaction. The 0.20 runner never calls it;
   * it is here so that PostgresSession has every ability MemorySession has, and code written
   * against MemorySession keeps working. Unlike MemorySession, a malformed call or an unknown
   * mutation type throws `InvalidArgumentError` instead of being ignored.
   */
  async applyHistoryMutations(args: SessionHistoryRewriteArgs): Promise<void> {
    const mutations = snapshotHistoryMutations(args);
    await applyHistoryMutations(this.#db, this.#sessionId, mutations);
  }
}
