import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostgresChatStore } from '../../src/chats/postgres-chat-store.js';
import { encodeTaggedJson } from '../../src/db/item-codec.js';
import { InvalidArgumentError, InvalidRequestError } from '../../src/errors.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { chatStoreContract } from '../../src/testing/chat-store-contract.js';

describeEachEngine('PostgresChatStore honours the ChatStore contract', (engine) => {
  let database: TestDatabase;
  afterAll(() => database.destroy());
  chatStoreContract(async () => {
    database = await createTestDatabase(engine);
    const db = database.db;
    return {
      store: new PostgresChatStore({ db }),
      addItems: (chatId, items, agentName) =>
        new PostgresSession({ db, sessionId: chatId, ...(agentName ? { agentName } : {}) }).addItems(items),
      addRun: async (chatId, run) => {
        await db
          .insertInto('agent_runs')
          .values({
            id: run.id,
            session_id: chatId,
            agent_name: 'Bard',
            status: 'completed',
            input: encodeTaggedJson(run.input),
            started_at: run.startedAt,
          })
          .execute();
      },
    };
  });
});

it('PostgresChatStore refuses a missing db', () => {
  expect(() => new PostgresChatStore({} as never)).toThrow(InvalidArgumentError);
});

describePostgres('PostgresChatStore on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('lists a user’s chats through the (user_id, updated_at, id) index, starting at the cursor', async () => {
    const store = new PostgresChatStore({ db: database.db });
    // Many owners, so that the planner prefers the index even on a small table.
    await sql`
      INSERT INTO agent_chats (id, user_id, updated_at)
      SELECT 'chat-' || n, 'owner-' || (n % 500), now() - n * interval '1 second'
      FROM generate_series(1, 20000) AS n
    `.execute(database.db);
    await sql`ANALYZE agent_chats`.execute(database.db);
    const first = await store.listChats('owner-7', { limit: 5 });
    const cursor = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString());
    const plan = await sql<{ 'QUERY PLAN': string }>`
      EXPLAIN (ANALYZE, FORMAT TEXT)
      SELECT * FROM agent_chats
      WHERE user_id = ${'owner-7'} AND updated_at <= ${new Date(cursor.t)}
        AND (updated_at < ${new Date(cursor.t)} OR (updated_at = ${new Date(cursor.t)} AND id < ${cursor.i}))
      ORDER BY updated_at DESC, id DESC LIMIT 6
    `.execute(database.db);
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Scan using agent_chats_user_updated_idx/);
    expect(text).toMatch(/Index Scan using agent_chats_user_updated_idx[^\n]*rows=6 /);
  });
});

describePostgres('PostgresChatStore reads a conversation page through the primary key', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('runs readConversation as a backward range scan of (session_id, position) that reads limit + 1 rows', async () => {
    // 200 chats of 500 items each, so that the planner prefers the index even on a test table.
    await sql`INSERT INTO agent_chats (id, user_id) SELECT 'chat-' || n, 'reader' FROM generate_series(1, 200) AS n`.execute(database.db);
    await sql`
      INSERT INTO agent_items (session_id, position, item)
      SELECT 'chat-' || c, p, jsonb_build_object('role', 'user', 'content', 'item ' || p)
      FROM generate_series(1, 200) AS c, generate_series(1, 500) AS p
    `.execute(database.db);
    await sql`ANALYZE agent_items`.execute(database.db);
    // The very statements the store sends, captured through Kysely's log and explained as sent.
    const sent: CompiledQuery[] = [];
    const pool = new pg.Pool(database.pool);
    const logged = new Kysely<any>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        if (event.level === 'query' && /from "agent_items"/.test(event.query.sql)) sent.push(event.query);
      },
    });
    try {
      const store = new PostgresChatStore({ db: logged });
      const newest = (await store.readConversation('reader', 'chat-7', { limit: 5 }))!;
      const older = (await store.readConversation('reader', 'chat-7', { limit: 5, before: newest.olderCursor! }))!;
      expect(older.entries.map((stored) => stored.position)).toEqual([491, 492, 493, 494, 495]);
      expect(sent).toHaveLength(2);
      for (const query of sent) {
        const plan = await pool.query(`EXPLAIN (ANALYZE, FORMAT TEXT) ${query.sql}`, [...query.parameters]);
        const text = plan.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
        expect(text).toMatch(/Index Scan Backward using agent_items_pkey[^\n]*rows=6 /);
        expect(text).not.toMatch(/Sort|Seq Scan/);
      }
    } finally {
      await logged.destroy();
    }
  });
});

describePostgres('PostgresChatStore refuses forged cursors before SQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('answers InvalidRequestError for cursor values no column can hold', async () => {
    const store = new PostgresChatStore({ db: database.db });
    const chat = (await store.createChat('forger'))!;
    const forge = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases: [string, () => Promise<unknown>][] = [
      ['a position over the integer range', () => store.listItems('forger', chat.id, { limit: 5, cursor: forge({ p: 9e15 }) })],
      ['a negative position', () => store.listItems('forger', chat.id, { limit: 5, cursor: forge({ p: -1 }) })],
      ['a `before` position over the integer range', () => store.readConversation('forger', chat.id, { limit: 5, before: forge({ b: 2 ** 31 }) })],
      ['a fractional `before` position', () => store.readConversation('forger', chat.id, { limit: 5, before: forge({ b: 1.5 }) })],
      ['an id with U+0000', () => store.listChats('forger', { limit: 5, cursor: forge({ t: 1, i: 'a\u0000' }) })],
      ['a time no Date can hold', () => store.listChats('forger', { limit: 5, cursor: forge({ t: 9e15, i: 'x' }) })],
      ['a run id that is not a UUID', () => store.listRuns('forger', chat.id, { limit: 5, cursor: forge({ t: 1, i: 'x' }) })],
    ];
    for (const [name, attempt] of cases) await expect(attempt(), name).rejects.toThrow(InvalidRequestError);
  });
});
