import { randomUUID } from 'node:crypto';
import type { AgentInputItem } from '@openai/agents';
import type { Selectable } from 'kysely';
import { decodeJsonObject, decodeTaggedJson, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely, ChatsTable, RunsTable } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { clearItems } from '../session/history-queries.js';
import type { PendingApproval } from '../runs/run-payloads.js';
import type {
  Chat,
  ChatStore,
  ConversationPage,
  ConversationPageRequest,
  CreateChatInput,
  Page,
  PageRequest,
  RunRecord,
  StoredItem,
  UpdateChatInput,
} from './chat-store.js';
import { chatCursor, decodeCursor, encodeCursor, itemCursor, olderItemCursor, runCursor } from './cursor.js';

export interface PostgresChatStoreOptions {
  /** A Kysely instance (or transaction) on a database migrated with `migrate(db)`. */
  db: AnyKysely;
}

/** The default `ChatStore`, on the tables created by `migrate(db)`. */
export class PostgresChatStore implements ChatStore {
  readonly #db: AgentRouterDb;

  constructor(options: PostgresChatStoreOptions) {
    if (!options?.db || typeof options.db.selectFrom !== 'function') {
      throw new InvalidArgumentError('PostgresChatStore needs `db`: a Kysely instance.');
    }
    this.#db = options.db as AgentRouterDb;
  }

  async createChat(userId: string, input: CreateChatInput = {}): Promise<Chat | undefined> {
    const row = await this.#db
      .insertInto('agent_chats')
      .values({
        id: input.id ?? randomUUID(),
        user_id: userId,
        title: input.title ?? null,
        metadata: encodeJson(input.metadata ?? {}, 'metadata'),
        state: encodeJson(input.state ?? {}, 'state'),
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .returningAll()
      .executeTakeFirst();
    // pg-mem answers ON CONFLICT DO NOTHING RETURNING with the existing row, whoever owns it,
    // so the owner is checked rather than trusting that a returned row is the new one.
    if (row && row.user_id === userId) return (await this.#withPending([row]))[0]!;
    // The id is taken: by this owner (return their chat) or by someone else (undefined).
    return input.id === undefined ? undefined : this.getChat(userId, input.id);
  }

  async getChat(userId: string, chatId: string): Promise<Chat | undefined> {
    const row = await this.#db
      .selectFrom('agent_chats')
      .selectAll()
      .where('id', '=', chatId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row && (await this.#withPending([row]))[0];
  }

  async listChats(userId: string, page: PageRequest): Promise<Page<Chat>> {
    let query = this.#db.selectFrom('agent_chats').selectAll().where('user_id', '=', userId);
    if (page.cursor !== undefined) {
      const after = decodeCursor(page.cursor, chatCursor);
      const time = new Date(after.t);
      // The first condition is redundant but lets PostgreSQL start the index scan at the cursor.
      query = query
        .where('updated_at', '<=', time)
        .where((eb) =>
          eb.or([eb('updated_at', '<', time), eb.and([eb('updated_at', '=', time), eb('id', '<', after.i)])]),
        );
    }
    const rows = await query
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return paginate(await this.#withPending(rows), page.limit, (chat) =>
      encodeCursor({ t: chat.updatedAt.getTime(), i: chat.id }),
    );
  }

  async updateChat(userId: string, chatId: string, input: UpdateChatInput): Promise<Chat | undefined> {
    const row = await this.#db
      .updateTable('agent_chats')
      .set((eb) => ({
        updated_at: eb.fn('now'),
        ...(input.title !== undefined ? { title: input.title } : {}),
        ...(input.metadata !== undefined ? { metadata: encodeJson(input.metadata, 'metadata') } : {}),
      }))
      .where('id', '=', chatId)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    return row && (await this.#withPending([row]))[0];
  }

  async clearConversation(userId: string, chatId: string): Promise<Chat | undefined> {
    if (!(await this.#owns(userId, chatId))) return undefined;
    await clearItems(this.#db, chatId);
    return this.getChat(userId, chatId);
  }

  async deleteChat(userId: string, chatId: string): Promise<boolean> {
    // Items, runs and history operations go with it (ON DELETE CASCADE).
    const result = await this.#db
      .deleteFrom('agent_chats')
      .where('id', '=', chatId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async readConversation(
    userId: string,
    chatId: string,
    page: ConversationPageRequest,
  ): Promise<ConversationPage | undefined> {
    const before =
      page.before === undefined
        ? undefined
        : decodeCursor(page.before, olderItemCursor, { param: 'before', field: 'older_cursor' });
    if (!(await this.#owns(userId, chatId))) return undefined;
    // A backward range scan of the primary key (session_id, position): limit + 1 rows, however
    // long the chat. The extra row only tells whether anything older is left.
    let query = this.#db
      .selectFrom('agent_items')
      .select(['position', 'item', 'agent_name', 'run_id', 'created_at'])
      .where('session_id', '=', chatId);
    if (before) query = query.where('position', '<', before.b);
    const rows = await query.orderBy('position', 'desc').limit(page.limit + 1).execute();
    const entries = rows.slice(0, page.limit).map(toStoredItem).reverse();
    const olderCursor = rows.length > page.limit ? encodeCursor({ b: entries[0]!.position }) : null;
    return { entries, olderCursor };
  }

  async listItems(userId: string, chatId: string, page: PageRequest): Promise<Page<StoredItem> | undefined> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, itemCursor);
    if (!(await this.#owns(userId, chatId))) return undefined;
    let query = this.#db
      .selectFrom('agent_items')
      .select(['position', 'item', 'agent_name', 'run_id', 'created_at'])
      .where('session_id', '=', chatId);
    if (after) query = query.where('position', '>', after.p);
    const rows = await query.orderBy('position', 'asc').limit(page.limit + 1).execute();
    return paginate(rows.map(toStoredItem), page.limit, (item) => encodeCursor({ p: item.position }));
  }

  async listRuns(userId: string, chatId: string, page: PageRequest): Promise<Page<RunRecord> | undefined> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, runCursor);
    if (!(await this.#owns(userId, chatId))) return undefined;
    let query = this.#db.selectFrom('agent_runs').selectAll().where('session_id', '=', chatId);
    if (after) {
      const time = new Date(after.t);
      query = query
        .where('started_at', '<=', time)
        .where((eb) =>
          eb.or([eb('started_at', '<', time), eb.and([eb('started_at', '=', time), eb('id', '<', after.i)])]),
        );
    }
    const rows = await query
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return paginate(rows.map(toRunRecord), page.limit, (run) =>
      encodeCursor({ t: run.startedAt.getTime(), i: run.id }),
    );
  }

  async getRun(userId: string, chatId: string, runId: string): Promise<RunRecord | undefined> {
    // A run id is a UUID: anything else names no run (and must not reach a uuid comparison).
    if (!UUID.test(runId) || !(await this.#owns(userId, chatId))) return undefined;
    const row = await this.#db
      .selectFrom('agent_runs')
      .selectAll()
      .where('id', '=', runId)
      .where('session_id', '=', chatId)
      .executeTakeFirst();
    return row && toRunRecord(row);
  }

  /** The chats, with what waits for approval on those that have a run waiting (one query for all). */
  async #withPending(rows: Selectable<ChatsTable>[]): Promise<Chat[]> {
    const pendingIds = rows.map((row) => row.pending_run_id).filter((id): id is string => id !== null);
    const pending = new Map<string, { prefix: string | null; approvals: PendingApproval[] }>();
    if (pendingIds.length > 0) {
      const runs = await this.#db
        .selectFrom('agent_runs')
        .select(['id', 'prefix', 'pending_approvals'])
        .where('id', 'in', pendingIds)
        .execute();
      for (const run of runs) pending.set(run.id, { prefix: run.prefix, approvals: publicApprovals(run.pending_approvals) ?? [] });
    }
    return rows.map((row) => {
      const waiting = row.pending_run_id ? pending.get(row.pending_run_id) : undefined;
      return toChat(row, row.pending_run_id ? { runId: row.pending_run_id, prefix: waiting?.prefix ?? null, approvals: waiting?.approvals ?? [] } : null);
    });
  }

  /** Whether the chat exists and is this owner's: an index lookup, without reading the chat. */
  async #owns(userId: string, chatId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('agent_chats')
      .select('id')
      .where('id', '=', chatId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }
}

function paginate<T>(entries: T[], limit: number, cursorOf: (entry: T) => string): Page<T> {
  if (entries.length <= limit) return { entries, nextCursor: null };
  const page = entries.slice(0, limit);
  return { entries: page, nextCursor: cursorOf(page[page.length - 1]!) };
}

function toChat(row: Selectable<ChatsTable>, pendingApproval: Chat['pendingApproval']): Chat {
  return {
    id: row.id,
    userId: row.user_id!,
    title: row.title,
    metadata: decodeJsonObject<Record<string, unknown>>(row.metadata) ?? {},
    itemCount: Number(row.item_count),
    lastAgentName: row.last_agent_name,
    usage: {
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      totalTokens: Number(row.total_tokens),
    },
    activeRunId: row.lease_run_id,
    pendingApproval,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The waiting calls as clients see them (the stored ones also keep each call's item type). */
function publicApprovals(stored: unknown): PendingApproval[] | null {
  const approvals = decodeJsonObject<PendingApproval[] | null>(stored);
  if (!Array.isArray(approvals)) return null;
  return approvals.map(({ call_id, tool_name, arguments: args, agent_name }) => ({ call_id, tool_name, arguments: args, agent_name }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toStoredItem(row: {
  position: number;
  item: unknown;
  agent_name: string | null;
  run_id: string | null;
  created_at: Date;
}): StoredItem {
  return {
    position: Number(row.position),
    item: decodeJsonObject<AgentInputItem>(row.item),
    agentName: row.agent_name,
    runId: row.run_id,
    createdAt: new Date(row.created_at),
  };
}

/** A row of `agent_runs` as the store's `RunRecord`. */
export function toRunRecord(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    chatId: row.session_id,
    status: row.status,
    agentName: row.agent_name,
    lastAgentName: row.last_agent_name,
    streamed: row.streamed,
    background: row.background,
    prefix: row.prefix,
    cancelRequested: row.cancel_requested_at !== null,
    approvals: row.status === 'awaiting_approval' ? publicApprovals(row.pending_approvals) : null,
    input: decodeTaggedJson<string | AgentInputItem[]>(row.input)!,
    finalOutput: decodeTaggedJson<unknown>(row.final_output),
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    itemCount: Number(row.item_count),
    usage: {
      requests: Number(row.requests),
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      totalTokens: Number(row.total_tokens),
    },
    startedAt: new Date(row.started_at),
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
    durationMs: row.duration_ms,
  };
}
