import { createHash, randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { z } from 'zod';
import type { Page, PageRequest } from '../chats/chat-store.js';
import { decodeCursor, encodeCursor } from '../chats/cursor.js';
import { detectEngine } from '../db/engine.js';
import { decodeJsonObject, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely, MemoriesTable } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { assertValidId } from '../session/session-id.js';
import { anyOfQuery, searchTerms, substringTerms } from './search-terms.js';

/** Something remembered about a user, as the store returns it. */
export interface Memory {
  id: string;
  userId: string;
  content: string;
  metadata: Record<string, unknown>;
  /** From 0 (trivia) to 1 (never forget). */
  importance: number;
  /** The agent, chat and run that remembered it; `null` when it was added outside a run. */
  agentName: string | null;
  chatId: string | null;
  runId: string | null;
  createdAt: Date;
  /** When a search last returned it, or `null` if none has. */
  lastUsedAt: Date | null;
}

/** A memory found by `recall`, with the score it was ranked by (higher first). */
export interface RecalledMemory extends Memory {
  score: number;
}

export interface RememberInput {
  /** The text to remember: at most `MAX_MEMORY_LENGTH` characters. */
  content: string;
  /** From 0 to 1. Defaults to 0.5. */
  importance?: number;
  /** A JSON object kept with the memory. Defaults to `{}`. */
  metadata?: Record<string, unknown>;
  /** Where it is remembered from, when a run does it. */
  agentName?: string | null;
  chatId?: string | null;
  runId?: string | null;
}

export interface RecallOptions {
  /** How many memories to return, at most (1 to 50). Defaults to 5. */
  limit?: number;
}

export interface PostgresMemoryStoreOptions {
  /** A Kysely instance (or transaction) on a database migrated with `migrate(db)`. */
  db: AnyKysely;
  /**
   * How fast recency fades: a memory not used for this many days counts three quarters as much
   * as a fresh one, after twice as long five eighths, and never less than half. Defaults to 30.
   */
  recencyHalfLifeDays?: number;
}

/** The longest memory the store accepts, in characters. */
export const MAX_MEMORY_LENGTH = 8_000;
const MAX_RECALL = 50;
/** Past this many half-lives the recency factor is 0.5 to every digit that matters. */
const MAX_HALF_LIVES = 60;

/** Memories page by (created_at, id), newest first. `t` is milliseconds since the epoch. */
const memoryCursor = z.strictObject({ t: z.number().int().min(0).max(8.64e15), i: z.uuid() });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = [
  'id',
  'user_id',
  'content',
  'metadata',
  'importance',
  'agent_name',
  'chat_id',
  'run_id',
  'created_at',
  'last_used_at',
] as const;

/**
 * Long-term memories of users, on the `agent_memories` table created by `migrate(db)`. Every
 * method takes the user first and only ever reads or changes that user's memories.
 *
 * `recall` ranks what matches the query by
 * `relevance × (0.5 + importance) × (0.5 + 0.5 × 2^(−days since last used / half-life))`:
 * relevance is PostgreSQL's `ts_rank` of the memory's English-stemmed words against the query's
 * words (any of them), so that for equally relevant memories the more important one comes first,
 * and a memory nobody recalled for months still counts half. On pg-mem (no full-text search),
 * relevance is the share of the query's words (stop words and words under three letters left out)
 * that the memory contains as substrings, without stemming.
 */
export class PostgresMemoryStore {
  readonly #db: AgentRouterDb;
  readonly #halfLifeSeconds: number;

  constructor(options: PostgresMemoryStoreOptions) {
    if (!options?.db || typeof options.db.selectFrom !== 'function') {
      throw new InvalidArgumentError('PostgresMemoryStore needs `db`: a Kysely instance.');
    }
    const days = options.recencyHalfLifeDays ?? 30;
    if (!(typeof days === 'number' && days > 0 && Number.isFinite(days))) {
      throw new InvalidArgumentError('PostgresMemoryStore: recencyHalfLifeDays must be a positive number of days.');
    }
    this.#db = options.db as AgentRouterDb;
    this.#halfLifeSeconds = days * 86_400;
  }

  /**
   * Stores a memory of the user. The same content remembered again by the same user is the same
   * memory: it keeps the higher of the two importances and counts as used now.
   */
  async remember(userId: string, input: RememberInput): Promise<Memory> {
    assertValidId(userId, 'userId');
    const content = checkContent(input?.content);
    const importance = checkImportance(input.importance ?? 0.5);
    for (const key of ['agentName', 'chatId'] as const) {
      if (input[key] !== undefined && input[key] !== null) assertValidId(input[key], key);
    }
    if (input.runId != null && !UUID.test(input.runId)) throw new InvalidArgumentError('runId must be a UUID.');
    const metadata = input.metadata ?? {};
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new InvalidArgumentError('remember: metadata must be a JSON object.');
    }
    const row = await this.#db
      .insertInto('agent_memories')
      .values({
        id: randomUUID(),
        user_id: userId,
        content,
        content_hash: createHash('sha256').update(content).digest('hex'),
        metadata: encodeJson(metadata, 'metadata'),
        importance,
        agent_name: input.agentName ?? null,
        chat_id: input.chatId ?? null,
        run_id: input.runId ?? null,
      })
      .onConflict((conflict) =>
        conflict.columns(['user_id', 'content_hash']).doUpdateSet({
          // Not greatest(): pg-mem gets it wrong for fractions.
          importance: sql`CASE WHEN excluded.importance > agent_memories.importance
                               THEN excluded.importance ELSE agent_memories.importance END`,
          last_used_at: sql`now()`,
        }),
      )
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toMemory(row);
  }

  /**
   * The user's memories that share a word with `query`, best first (see the class's ranking),
   * at most `limit`. Each one returned is marked as used now (its `lastUsedAt` in the answer is
   * that new time). A query without a word of letters or digits finds nothing.
   */
  async recall(userId: string, query: string, options: RecallOptions = {}): Promise<RecalledMemory[]> {
    assertValidId(userId, 'userId');
    if (typeof query !== 'string') throw new InvalidArgumentError('recall(userId, query): query must be a string.');
    const limit = options.limit ?? 5;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECALL) {
      throw new InvalidArgumentError(`recall: limit must be an integer from 1 to ${MAX_RECALL}.`);
    }
    const terms = searchTerms(query);
    if (terms.length === 0) return [];
    const { postgres } = await detectEngine(this.#db);
    return postgres ? this.#recallFullText(userId, terms, limit) : this.#recallSubstrings(userId, terms, limit);
  }

  async #recallFullText(userId: string, terms: string[], limit: number): Promise<RecalledMemory[]> {
    // One statement: rank the matches (through the GIN index), then mark the chosen ones used.
    const { rows } = await sql<Selectable<MemoriesTable> & { score: number }>`
      WITH found AS (
        SELECT memory.id,
               ts_rank(memory.search, query) * (0.5 + memory.importance) * (0.5 + 0.5 * power(0.5::float8, least(
                 extract(epoch FROM now() - coalesce(memory.last_used_at, memory.created_at))::float8 / ${this.#halfLifeSeconds}::float8,
                 ${MAX_HALF_LIVES}::float8))) AS score,
               memory.created_at
        FROM agent_memories AS memory, to_tsquery('english', ${anyOfQuery(terms)}) AS query
        WHERE memory.user_id = ${userId} AND memory.search @@ query
        ORDER BY score DESC, memory.created_at DESC, memory.id DESC
        LIMIT ${limit}
      )
      UPDATE agent_memories AS memory SET last_used_at = now()
      FROM found
      WHERE memory.id = found.id
      RETURNING ${sql.join(COLUMNS.map((column) => sql.ref(`memory.${column}`)))}, found.score
    `.execute(this.#db);
    return rows.map((row) => ({ ...toMemory(row), score: Number(row.score) })).sort(byScore);
  }

  async #recallSubstrings(userId: string, terms: string[], limit: number): Promise<RecalledMemory[]> {
    const words = substringTerms(terms);
    if (words.length === 0) return [];
    // Terms hold letters and digits only: no % or _ to escape.
    const rows = await this.#db
      .selectFrom('agent_memories')
      .select(COLUMNS)
      .where('user_id', '=', userId)
      .where((eb) => eb.or(words.map((word) => eb('content', 'ilike', `%${word}%`))))
      .execute();
    const now = Date.now();
    const ranked = rows
      .map((row) => {
        const memory = toMemory(row);
        const text = memory.content.toLowerCase();
        const relevance = words.filter((word) => text.includes(word)).length / words.length;
        const halfLives = Math.min((now - (memory.lastUsedAt ?? memory.createdAt).getTime()) / 1000 / this.#halfLifeSeconds, MAX_HALF_LIVES);
        return { ...memory, score: relevance * (0.5 + memory.importance) * (0.5 + 0.5 * 0.5 ** Math.max(halfLives, 0)) };
      })
      .sort(byScore)
      .slice(0, limit);
    if (ranked.length === 0) return [];
    const touched = await this.#db
      .updateTable('agent_memories')
      .set({ last_used_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('id', 'in', ranked.map((memory) => memory.id))
      .returning(['id', 'last_used_at'])
      .execute();
    const usedAt = new Map(touched.map((row) => [row.id, row.last_used_at]));
    return ranked.map((memory) => ({ ...memory, lastUsedAt: usedAt.get(memory.id) ?? memory.lastUsedAt }));
  }

  /** The user's memories, newest first, a page at a time (keyset pagination). */
  async listMemories(userId: string, page: PageRequest): Promise<Page<Memory>> {
    assertValidId(userId, 'userId');
    let query = this.#db.selectFrom('agent_memories').select(COLUMNS).where('user_id', '=', userId);
    if (page.cursor !== undefined) {
      const after = decodeCursor(page.cursor, memoryCursor);
      const time = new Date(after.t);
      // The first condition is redundant but lets PostgreSQL start the index scan at the cursor.
      query = query
        .where('created_at', '<=', time)
        .where((eb) => eb.or([eb('created_at', '<', time), eb.and([eb('created_at', '=', time), eb('id', '<', after.i)])]));
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const entries = rows.slice(0, page.limit).map(toMemory);
    const last = entries.at(-1);
    return {
      entries,
      nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.createdAt.getTime(), i: last.id }) : null,
    };
  }

  /** Forgets one memory of the user; false if the user has none with that id. */
  async deleteMemory(userId: string, memoryId: string): Promise<boolean> {
    assertValidId(userId, 'userId');
    // An id that is not a UUID names no memory (and must not reach a uuid comparison).
    if (typeof memoryId !== 'string' || !UUID.test(memoryId)) return false;
    const result = await this.#db
      .deleteFrom('agent_memories')
      .where('id', '=', memoryId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Forgets everything remembered about the user; returns how many memories that was. */
  async deleteAllMemories(userId: string): Promise<number> {
    assertValidId(userId, 'userId');
    const result = await this.#db.deleteFrom('agent_memories').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function checkContent(content: unknown): string {
  if (typeof content !== 'string' || content.trim().length === 0) {
    throw new InvalidArgumentError('remember: content must be a non-empty string.');
  }
  if (content.length > MAX_MEMORY_LENGTH) {
    throw new InvalidArgumentError(`remember: content must be at most ${MAX_MEMORY_LENGTH} characters.`);
  }
  if (content.includes('\u0000') || !content.isWellFormed()) {
    throw new InvalidArgumentError('remember: content must be well-formed Unicode without the character U+0000.');
  }
  return content.trim();
}

function checkImportance(importance: unknown): number {
  if (typeof importance !== 'number' || !(importance >= 0 && importance <= 1)) {
    throw new InvalidArgumentError('remember: importance must be a number from 0 to 1.');
  }
  return importance;
}

function byScore(a: RecalledMemory, b: RecalledMemory): number {
  return b.score - a.score || b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function toMemory(row: Pick<Selectable<MemoriesTable>, (typeof COLUMNS)[number]>): Memory {
  return {
    id: row.id,
    userId: row.user_id,
    content: row.content,
    metadata: decodeJsonObject<Record<string, unknown>>(row.metadata) ?? {},
    importance: Number(row.importance),
    agentName: row.agent_name,
    chatId: row.chat_id,
    runId: row.run_id,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  };
}
