import express from 'express';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { createMemoryRouter } from '../../src/memories/create-memory-router.js';
import { PostgresMemoryStore } from '../../src/memories/postgres-memory-store.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const as = (user: string) => ({ headers: { 'x-user-id': user } });

describeEachEngine('createMemoryRouter', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  let store: PostgresMemoryStore;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    store = new PostgresMemoryStore({ db: database.db });
    const app = express();
    app.use(createMemoryRouter(() => database.db, { getUserId: (req) => req.header('x-user-id'), logger: quiet }));
    server = await listen(app);
  });
  beforeEach(async () => {
    await sql`DELETE FROM agent_memories`.execute(database.db);
  });
  afterAll(async () => {
    await server.close();
    await database.destroy();
  });

  /** Remembers `count` memories for alice, a day apart, and returns their ids, oldest first. */
  async function seed(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const memory = await store.remember('alice', { content: `Fact ${i}`, importance: 0.5, metadata: { i } });
      await sql`UPDATE agent_memories SET created_at = ${new Date(Date.UTC(2026, 5, 1 + i))} WHERE id = ${memory.id}`.execute(database.db);
      ids.push(memory.id);
    }
    return ids;
  }

  it('lists the caller’s memories newest first, a page at a time', async () => {
    const ids = await seed(5);
    await store.remember('bob', { content: 'Bob’s own' });
    const first = await request(server, 'GET', '/memories?limit=2', as('alice'));
    expect(first.status).toBe(200);
    expect(first.body.memories[0]).toEqual({
      memory_id: ids[4],
      content: 'Fact 4',
      metadata: { i: 4 },
      importance: 0.5,
      agent_name: null,
      chat_id: null,
      run_id: null,
      created_at: '2026-06-05T00:00:00.000Z',
      last_used_at: null,
    });
    const second = await request(server, 'GET', `/memories?limit=2&cursor=${first.body.next_cursor}`, as('alice'));
    const third = await request(server, 'GET', `/memories?limit=2&cursor=${second.body.next_cursor}`, as('alice'));
    const listed = [first, second, third].flatMap((page) => page.body.memories.map((memory: { memory_id: string }) => memory.memory_id));
    expect(listed).toEqual([...ids].reverse());
    expect(third.body.next_cursor).toBeNull();
    expect((await request(server, 'GET', '/memories', as('carol'))).body).toEqual({ memories: [], next_cursor: null });
  });

  it('deletes one memory, and answers another user’s exactly like a missing one', async () => {
    const [kept, gone] = await seed(2);
    const asBob = await request(server, 'DELETE', `/memories/${gone}`, as('bob'));
    const missing = await request(server, 'DELETE', '/memories/00000000-0000-4000-8000-000000000000', as('bob'));
    const notAUuid = await request(server, 'DELETE', '/memories/forty-two', as('bob'));
    for (const answer of [asBob, missing, notAUuid]) {
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual({ success: false, error: { code: 'memory_not_found', message: 'Memory not found.' } });
    }
    const deleted = await request(server, 'DELETE', `/memories/${gone}`, as('alice'));
    expect(deleted.status).toBe(204);
    expect((await request(server, 'DELETE', `/memories/${gone}`, as('alice'))).status).toBe(404);
    const left = await request(server, 'GET', '/memories', as('alice'));
    expect(left.body.memories.map((memory: { memory_id: string }) => memory.memory_id)).toEqual([kept]);
  });

  it('deletes all of the caller’s memories, and only theirs', async () => {
    await seed(3);
    await store.remember('bob', { content: 'Bob’s own' });
    const answer = await request(server, 'DELETE', '/memories', as('alice'));
    expect(answer).toMatchObject({ status: 200, body: { deleted: 3 } });
    expect((await request(server, 'GET', '/memories', as('alice'))).body.memories).toEqual([]);
    expect(await store.recall('alice', 'Fact')).toEqual([]);
    expect((await request(server, 'GET', '/memories', as('bob'))).body.memories).toHaveLength(1);
    expect((await request(server, 'DELETE', '/memories', as('alice'))).body).toEqual({ deleted: 0 });
  });

  it('answers bad input with the error envelope, changing nothing', async () => {
    await seed(1);
    for (const query of ['limit=0', 'limit=101', 'limit=x', 'order=asc', 'cursor=bm9wZQ']) {
      const answer = await request(server, 'GET', `/memories?${query}`, as('alice'));
      expect(answer.status, query).toBe(400);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'invalid_request' } });
    }
    expect((await request(server, 'GET', '/memories')).status).toBe(401);
    expect((await request(server, 'DELETE', '/memories')).status).toBe(401);
    const put = await request(server, 'PUT', '/memories', as('alice'));
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, DELETE');
    expect((await request(server, 'GET', `/memories/x`, as('alice'))).status).toBe(405);
    expect((await request(server, 'GET', '/memories', as('alice'))).body.memories).toHaveLength(1);
  });

  it('answers a DELETE whose memory id was left out (`/memories/`) with 404, forgetting nothing', async () => {
    await seed(2);
    const answer = await request(server, 'DELETE', '/memories/', as('alice'));
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ success: false, error: { code: 'not_found', message: 'No endpoint at /memories/.' } });
    expect((await request(server, 'GET', '/memories', as('alice'))).body.memories).toHaveLength(2);
  });

  it('refuses a query on the deletes: DELETE /memories?memory_id=... deletes nothing, rather than everything', async () => {
    const [first] = await seed(2);
    for (const path of [`/memories?memory_id=${first}`, `/memories/${first}?confirm=yes`]) {
      const answer = await request(server, 'DELETE', path, as('alice'));
      expect(answer.status, path).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'invalid_request', details: [expect.objectContaining({ code: 'unrecognized_keys' })] });
    }
    expect((await request(server, 'GET', '/memories', as('alice'))).body.memories).toHaveLength(2);
  });
});

it('createMemoryRouter refuses a bad getDb or option at start-up', () => {
  expect(() => createMemoryRouter('db' as never)).toThrow(ConfigurationError);
  expect(() => createMemoryRouter(() => ({}) as never, { path: 'memories', logger: quiet })).toThrow(/option "path"/);
  expect(() => createMemoryRouter(() => ({}) as never, { getUserId: () => 'a', limit: 3 } as never)).toThrow(/unknown option "limit"/);
});
