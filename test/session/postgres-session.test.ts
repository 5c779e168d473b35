import { protocol, type AgentInputItem } from '@openai/agents';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import {
  createTestDatabase,
  describeEachEngine,
  describePostgres,
  type TestDatabase,
} from '../helpers/database.js';
import { everyKindOfItem } from '../fixtures/items.js';

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
const texts = (items: AgentInputItem[]) => items.map((item) => (item as { content: string }).content);

async function chatRow(db: TestDatabase, sessionId: string) {
  const { rows } = await sql<{ item_count: number; next_position: number }>`
    SELECT item_count, next_position FROM agent_chats WHERE id = ${sessionId}
  `.execute(db.db);
  return rows[0];
}

async function storedCount(db: TestDatabase, sessionId: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`
    SELECT count(*) AS n FROM agent_items WHERE session_id = ${sessionId}
  `.execute(db.db);
  return Number(rows[0]!.n);
}

describeEachEngine('PostgresSession', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database.destroy());

  const session = (sessionId?: string) =>
    new PostgresSession({ db: database.db, ...(sessionId ? { sessionId } : {}) });

  it('fixture items are valid SDK items', () => {
    for (const item of everyKindOfItem) expect(protocol.ModelItem.safeParse(item).success).toBe(true);
  });

  it('stores every kind of item and reads it back deep-equal, U+0000 and surrogates included', async () => {
    const s = session();
    await s.addItems(everyKindOfItem);
    expect(await s.getItems()).toEqual(everyKindOfItem);
    // And through a new object, as the next request would.
    expect(await session(await s.getSessionId()).getItems()).toEqual(everyKindOfItem);
  });

  it('generates a UUID session id when none is given', async () => {
    expect(await session().getSessionId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(await session('my-chat').getSessionId()).toBe('my-chat');
  });

  it('returns the most recent `limit` items oldest-first', async () => {
    const s = session();
    await s.addItems([user('a'), user('b'), user('c')]);
    await s.addItems([user('d')]);
    expect(texts(await s.getItems())).toEqual(['a', 'b', 'c', 'd']);
    expect(texts(await s.getItems(2))).toEqual(['c', 'd']);
    expect(texts(await s.getItems(1))).toEqual(['d']);
    expect(texts(await s.getItems(4))).toEqual(['a', 'b', 'c', 'd']);
    expect(texts(await s.getItems(100))).toEqual(['a', 'b', 'c', 'd']);
    expect(await s.getItems(0)).toEqual([]);
    expect(await s.getItems(-1)).toEqual([]);
  });

  it('reads an unknown session as empty without creating it', async () => {
    const s = session('never-written');
    expect(await s.getItems()).toEqual([]);
    expect(await s.popItem()).toBeUndefined();
    await s.clearSession();
    expect(await chatRow(database, 'never-written')).toBeUndefined();
  });

  it('treats an empty addItems as a no-op', async () => {
    const s = session();
    await s.addItems([]);
    expect(await chatRow(database, await s.getSessionId())).toBeUndefined();
  });

  it('pops the newest item, then the next, and undefined when empty', async () => {
    const s = session();
    await s.addItems([user('a'), user('b')]);
    expect(await s.popItem()).toEqual(user('b'));
    expect(await s.popItem()).toEqual(user('a'));
    expect(await s.popItem()).toBeUndefined();
    expect(await chatRow(database, await s.getSessionId())).toMatchObject({ item_count: 0 });
  });

  it('keeps order after a pop followed by more items', async () => {
    const s = session();
    await s.addItems([user('a'), user('b')]);
    await s.popItem();
    await s.addItems([user('c')]);
    expect(texts(await s.getItems())).toEqual(['a', 'c']);
    expect(texts(await s.getItems(1))).toEqual(['c']);
    expect(await chatRow(database, await s.getSessionId())).toMatchObject({ item_count: 2 });
  });

  it('clears everything and can be used again', async () => {
    const s = session();
    await s.addItems([user('a'), user('b')]);
    await s.clearSession();
    expect(await s.getItems()).toEqual([]);
    expect(await chatRow(database, await s.getSessionId())).toMatchObject({ item_count: 0 });
    await s.addItems([user('c')]);
    expect(texts(await s.getItems())).toEqual(['c']);
    expect(await chatRow(database, await s.getSessionId())).toMatchObject({ item_count: 1 });
  });

  it('stamps agentName and runId on the items it writes', async () => {
    const runId = '2b0e0b7c-7a0a-4f47-9d53-5d6f0f6a3f11';
    const s = new PostgresSession({ db: database.db, agentName: 'Planner', runId });
    await s.addItems([user('a')]);
    const { rows } = await sql<{ agent_name: string; run_id: string }>`
      SELECT agent_name, run_id FROM agent_items WHERE session_id = ${await s.getSessionId()}
    `.execute(database.db);
    expect(rows).toEqual([{ agent_name: 'Planner', run_id: runId }]);
  });

  describe('refuses bad arguments clearly and changes nothing', () => {
    it('in the constructor', () => {
      const db = database.db;
      expect(() => new PostgresSession({ db, sessionId: '' })).toThrow(/sessionId must not be empty/);
      expect(() => new PostgresSession({ db, sessionId: 'x'.repeat(256) })).toThrow(/at most 255/);
      expect(() => new PostgresSession({ db, sessionId: 'a\u0000b' })).toThrow(/U\+0000/);
      expect(() => new PostgresSession({ db, sessionId: 42 as unknown as string })).toThrow(
        InvalidArgumentError,
      );
      expect(() => new PostgresSession({ db, runId: 'not-a-uuid' })).toThrow(/runId must be a UUID/);
      expect(() => new PostgresSession({} as never)).toThrow(/Kysely instance/);
      // 255 characters is fine, counted as characters, not UTF-16 units.
      expect(() => new PostgresSession({ db, sessionId: '😀'.repeat(255) })).not.toThrow();
    });

    it('in addItems, getItems', async () => {
      const s = session();
      await s.addItems([user('kept')]);
      await expect(s.addItems('nope' as never)).rejects.toThrow(/must be an array/);
      await expect(s.addItems([user('x'), null as never])).rejects.toThrow(/item 1 is not an object/);
      await expect(
        s.addItems([user('x'), { role: 'user', content: 'big', n: 10n } as never]),
      ).rejects.toThrow(/cannot be serialised as JSON/);
      await expect(s.getItems(2.5)).rejects.toThrow(/limit must be an integer/);
      await expect(s.getItems(Number.NaN)).rejects.toThrow(InvalidArgumentError);
      expect(texts(await s.getItems())).toEqual(['kept']);
    });
  });
});

describePostgres('PostgresSession on PostgreSQL: atomicity, concurrency, indexes', () => {
  let database: TestDatabase;
  const statements: string[] = [];
  let logged: Kysely<any>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres', { poolSize: 20 });
    logged = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool(database.pool) }),
      log: (event) => {
        if (event.level === 'query') statements.push(event.query.sql);
      },
    });
    // The engine probe runs once per Kysely instance; get it out of the way.
    await new PostgresSession({ db: logged }).addItems([user('warm-up')]);
  });
  afterAll(async () => {
    await logged.destroy();
    await database.destroy();
  });

  // pg-mem counts varchar length in UTF-16 units, so this one is proven here only.
  it('accepts the longest id, counted in characters, and stores it', async () => {
    const id = '😀'.repeat(255);
    await new PostgresSession({ db: database.db, sessionId: id }).addItems([user('x')]);
    expect(texts(await new PostgresSession({ db: database.db, sessionId: id }).getItems())).toEqual(['x']);
  });

  it('writes all items of one addItems call in one statement, and none for an empty call', async () => {
    const s = new PostgresSession({ db: logged });
    statements.length = 0;
    await s.addItems(Array.from({ length: 10 }, (_, i) => user(`item ${i}`)));
    expect(statements).toHaveLength(1);
    statements.length = 0;
    await s.addItems([]);
    expect(statements).toHaveLength(0);
  });

  it('is all-or-nothing: a batch that fails in the database stores none of its items', async () => {
    const s = new PostgresSession({ db: database.db });
    await s.addItems([user('before')]);
    // A CHECK that rejects one specific item makes the database fail halfway through the batch.
    await sql`ALTER TABLE agent_items ADD CONSTRAINT no_poison CHECK (item->>'content' IS DISTINCT FROM 'poison')`.execute(
      database.db,
    );
    try {
      await expect(s.addItems([user('one'), user('two'), user('poison'), user('three')])).rejects.toThrow(
        /no_poison/,
      );
    } finally {
      await sql`ALTER TABLE agent_items DROP CONSTRAINT no_poison`.execute(database.db);
    }
    expect(texts(await s.getItems())).toEqual(['before']);
    expect(await chatRow(database, await s.getSessionId())).toMatchObject({ item_count: 1 });
  });

  it('keeps each call contiguous and in order with 50 concurrent writers, losing nothing', async () => {
    const sessionId = 'concurrent-writers';
    const writers = Array.from({ length: 50 }, (_, w) =>
      new PostgresSession({ db: database.db, sessionId }).addItems(
        Array.from({ length: 10 }, (_, i) => user(`${w}:${i}`)),
      ),
    );
    await Promise.all(writers);
    const stored = texts(await new PostgresSession({ db: database.db, sessionId }).getItems());
    expect(stored).toHaveLength(500);
    for (let start = 0; start < 500; start += 10) {
      const writer = stored[start]!.split(':')[0];
      expect(stored.slice(start, start + 10)).toEqual(
        Array.from({ length: 10 }, (_, i) => `${writer}:${i}`),
      );
    }
    expect(new Set(stored.map((text) => text.split(':')[0])).size).toBe(50);
    expect(await chatRow(database, sessionId)).toMatchObject({ item_count: 500 });
  });

  it('gives 20 concurrent pops on 20 items 20 distinct items', async () => {
    const sessionId = 'concurrent-pops';
    await new PostgresSession({ db: database.db, sessionId }).addItems(
      Array.from({ length: 20 }, (_, i) => user(`p${i}`)),
    );
    const popped = await Promise.all(
      Array.from({ length: 20 }, () => new PostgresSession({ db: database.db, sessionId }).popItem()),
    );
    const values = popped.map((item) => (item as { content: string } | undefined)?.content);
    expect(values.every((value) => value !== undefined)).toBe(true);
    expect(new Set(values).size).toBe(20);
    expect(await storedCount(database, sessionId)).toBe(0);
    expect(await chatRow(database, sessionId)).toMatchObject({ item_count: 0 });
  });

  it('keeps item_count exact while writers, poppers and clearers race', async () => {
    const sessionId = 'mixed-race';
    const s = () => new PostgresSession({ db: database.db, sessionId });
    await s().addItems([user('seed')]);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      work.push(s().addItems([user(`a${i}`), user(`b${i}`)]));
      if (i % 3 === 0) work.push(s().popItem());
      if (i % 10 === 5) work.push(s().clearSession());
    }
    await Promise.all(work);
    expect((await chatRow(database, sessionId))!.item_count).toBe(await storedCount(database, sessionId));
  });

  it('reads the latest N items through the primary key, not the whole history', async () => {
    const sessionId = 'indexed-read';
    await sql`INSERT INTO agent_chats (id, item_count, next_position) VALUES (${sessionId}, 20000, 20001)`.execute(
      database.db,
    );
    await sql`
      INSERT INTO agent_items (session_id, position, item)
      SELECT ${sessionId}, n, jsonb_build_object('role', 'user', 'content', 'm' || n)
      FROM generate_series(1, 20000) AS n
    `.execute(database.db);
    await sql`ANALYZE agent_items`.execute(database.db);
    statements.length = 0;
    const latest = await new PostgresSession({ db: logged, sessionId }).getItems(50);
    expect(texts(latest)).toEqual(Array.from({ length: 50 }, (_, i) => `m${19951 + i}`));
    expect(statements).toHaveLength(1);
    const plan = await sql
      .raw<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, FORMAT TEXT) ${statements[0]!.replace('$1', `'${sessionId}'`).replace('$2', '50')}`,
      )
      .execute(database.db);
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Scan Backward using agent_items_pkey/);
    // The scan stops after 50 rows instead of visiting all 20,000.
    expect(text).toMatch(/Index Scan Backward[^\n]*rows=50 /);
  });
});
