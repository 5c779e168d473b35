import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidRequestError } from '../../src/errors.js';
import { PostgresMemoryStore } from '../../src/memories/postgres-memory-store.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';

describeEachEngine('PostgresMemoryStore', (engine) => {
  let database: TestDatabase;
  let store: PostgresMemoryStore;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    store = new PostgresMemoryStore({ db: database.db });
  });
  beforeEach(async () => {
    await sql`DELETE FROM agent_memories`.execute(database.db);
  });
  afterAll(() => database.destroy());

  /** Gives memories one creation time, so that recency cannot tell them apart. */
  async function sameAge(ids: string[]) {
    for (const id of ids) {
      await sql`UPDATE agent_memories SET created_at = '2026-11-01T12:00:00.000Z', last_used_at = NULL WHERE id = ${id}`.execute(
        database.db,
      );
    }
  }

  it('finds what a user remembered by a word of it, for that user only', async () => {
    const brom = await store.remember('alice', { content: 'The hero is a dwarf fighter named Brom.', importance: 0.9 });
    await store.remember('alice', { content: 'Alice prefers short answers.', importance: 0.4 });
    await store.remember('bob', { content: 'The hero of Bob is an elf named Brom.', importance: 1 });
    const found = await store.recall('alice', 'Who is Brom?');
    expect(found.map((memory) => memory.content)).toEqual(['The hero is a dwarf fighter named Brom.']);
    expect(found[0]).toMatchObject({ id: brom.id, userId: 'alice', importance: 0.9 });
    expect(found[0]!.score).toBeGreaterThan(0);
    expect(await store.recall('carol', 'Who is Brom?')).toEqual([]);
  });

  it('ranks equally relevant memories by importance', async () => {
    // Inserted least important first, so that neither insertion order nor id order explains the answer.
    const low = await store.remember('alice', { content: 'Brom likes apples.', importance: 0.1 });
    const high = await store.remember('alice', { content: 'Brom likes pears.', importance: 0.9 });
    const middle = await store.remember('alice', { content: 'Brom likes plums.', importance: 0.5 });
    await sameAge([low.id, high.id, middle.id]);
    const found = await store.recall('alice', 'What does Brom like?');
    expect(found.map((memory) => memory.id)).toEqual([high.id, middle.id, low.id]);
    const [first, second, third] = found.map((memory) => memory.score);
    // Equal relevance and age: the scores are in the ratio of (0.5 + importance).
    expect(first! / third!).toBeCloseTo(1.4 / 0.6, 5);
    expect(second! / third!).toBeCloseTo(1.0 / 0.6, 5);
  });

  it('ranks a more relevant memory above a more important one that matches less', async () => {
    const both = await store.remember('alice', { content: 'Brom was born in Emberfall.', importance: 0.5 });
    const one = await store.remember('alice', { content: 'Brom owns an axe.', importance: 0.6 });
    await sameAge([both.id, one.id]);
    const found = await store.recall('alice', 'Brom Emberfall');
    expect(found.map((memory) => memory.id)).toEqual([both.id, one.id]);
  });

  it('counts recency: of two equal memories, the recently used one first; recalling marks them used', async () => {
    const old = await store.remember('alice', { content: 'Brom fears spiders.', importance: 0.5 });
    const fresh = await store.remember('alice', { content: 'Brom fears snakes.', importance: 0.5 });
    await sql`UPDATE agent_memories SET created_at = now() - interval '90 days' WHERE id = ${old.id}`.execute(database.db);
    await sql`UPDATE agent_memories SET created_at = now() - interval '1 day' WHERE id = ${fresh.id}`.execute(database.db);
    const before = Date.now();
    const found = await store.recall('alice', 'fears');
    expect(found.map((memory) => memory.id)).toEqual([fresh.id, old.id]);
    for (const memory of found) expect(memory.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const listed = await store.listMemories('alice', { limit: 10 });
    for (const memory of listed.entries) expect(memory.lastUsedAt).not.toBeNull();
  });

  it('returns at most `limit`, and nothing for a query without words', async () => {
    for (let i = 0; i < 7; i++) await store.remember('alice', { content: `Brom fact number ${i}.` });
    expect(await store.recall('alice', 'Brom', { limit: 3 })).toHaveLength(3);
    expect(await store.recall('alice', 'Brom')).toHaveLength(5);
    expect(await store.recall('alice', '?!')).toEqual([]);
    // Operators of tsquery are not words: they reach no SQL.
    expect(await store.recall('alice', "Brom & | ! ( ) : * ' \\")).toHaveLength(5);
  });

  it('keeps one memory for content remembered twice, with the higher importance', async () => {
    const first = await store.remember('alice', { content: 'Brom is left-handed.', importance: 0.7 });
    const again = await store.remember('alice', { content: '  Brom is left-handed.  ', importance: 0.2 });
    expect(again.id).toBe(first.id);
    expect(again.importance).toBe(0.7);
    const higher = await store.remember('alice', { content: 'Brom is left-handed.', importance: 0.95 });
    expect(higher).toMatchObject({ id: first.id, importance: 0.95 });
    expect((await store.listMemories('alice', { limit: 10 })).entries).toHaveLength(1);
    // Another user's identical memory is theirs.
    expect((await store.remember('bob', { content: 'Brom is left-handed.' })).id).not.toBe(first.id);
  });

  it('lists a user’s memories newest first, a page at a time, and deletes one or all', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const memory = await store.remember('alice', { content: `Memory ${i}`, metadata: { i } });
      await sql`UPDATE agent_memories SET created_at = ${new Date(Date.UTC(2026, 0, 1 + i))} WHERE id = ${memory.id}`.execute(database.db);
      ids.push(memory.id);
    }
    await store.remember('bob', { content: 'Not Alice’s' });
    const first = await store.listMemories('alice', { limit: 2 });
    const second = await store.listMemories('alice', { limit: 2, cursor: first.nextCursor! });
    const third = await store.listMemories('alice', { limit: 2, cursor: second.nextCursor! });
    expect([...first.entries, ...second.entries, ...third.entries].map((memory) => memory.id)).toEqual([...ids].reverse());
    expect(third.nextCursor).toBeNull();
    expect(first.entries[0]!.metadata).toEqual({ i: 4 });
    await expect(store.listMemories('alice', { limit: 2, cursor: 'garbage' })).rejects.toThrow(InvalidRequestError);

    expect(await store.deleteMemory('bob', ids[0]!)).toBe(false);
    expect(await store.deleteMemory('alice', 'not-a-uuid')).toBe(false);
    expect(await store.deleteMemory('alice', ids[0]!)).toBe(true);
    expect(await store.deleteMemory('alice', ids[0]!)).toBe(false);
    expect(await store.deleteAllMemories('alice')).toBe(4);
    expect((await store.listMemories('alice', { limit: 10 })).entries).toEqual([]);
    expect(await store.recall('alice', 'Memory')).toEqual([]);
    expect((await store.listMemories('bob', { limit: 10 })).entries).toHaveLength(1);
  });

  it('refuses what it cannot store, before any SQL', async () => {
    await expect(store.remember('alice', { content: '   ' })).rejects.toThrow(InvalidArgumentError);
    await expect(store.remember('alice', { content: 'x', importance: 1.5 })).rejects.toThrow(InvalidArgumentError);
    await expect(store.remember('alice', { content: 'x', importance: Number.NaN })).rejects.toThrow(InvalidArgumentError);
    await expect(store.remember('alice', { content: 'a\u0000b' })).rejects.toThrow(InvalidArgumentError);
    await expect(store.remember('', { content: 'x' })).rejects.toThrow(InvalidArgumentError);
    await expect(store.recall('alice', 'x', { limit: 0 })).rejects.toThrow(InvalidArgumentError);
    expect((await store.listMemories('alice', { limit: 10 })).entries).toEqual([]);
  });
});

describePostgres('PostgresMemoryStore on PostgreSQL', () => {
  let database: TestDatabase;
  let store: PostgresMemoryStore;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    store = new PostgresMemoryStore({ db: database.db });
  });
  afterAll(() => database.destroy());

  it('matches words by their English stem, and ignores stop words', async () => {
    await store.remember('alice', { content: 'Brom fought three goblins in the caves.' });
    expect(await store.recall('alice', 'fighting goblin cave')).toHaveLength(1);
    expect(await store.recall('alice', 'the in three')).toHaveLength(1);
    expect(await store.recall('alice', 'the in')).toEqual([]);
  });

  it('searches the memories of a user who has many through the GIN index', async () => {
    await sql`
      INSERT INTO agent_memories (id, user_id, content, content_hash)
      SELECT gen_random_uuid(), 'user-7', 'filler memory number ' || n || ' about '
             || (ARRAY['dragons', 'castles', 'rivers', 'swords', 'taverns'])[1 + n % 5], md5(n::text)
      FROM generate_series(1, 50000) AS n
    `.execute(database.db);
    await sql`ANALYZE agent_memories`.execute(database.db);
    const plan = await sql<{ 'QUERY PLAN': string }>`
      EXPLAIN SELECT id FROM agent_memories WHERE user_id = 'user-7' AND search @@ to_tsquery('english', 'goblin | rare')
    `.execute(database.db);
    expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('agent_memories_search_idx');
  });
});
