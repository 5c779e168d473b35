import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { ConfigurationError } from '../../src/errors.js';
import type { Logger } from '../../src/http/logger.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

/** A logger that remembers what it was told. */
function memoryLogger() {
  const lines: { level: 'warn' | 'error'; message: string; details?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    warn: (message, details) => void lines.push({ level: 'warn', message, ...(details ? { details } : {}) }),
    error: (message, details) => void lines.push({ level: 'error', message, ...(details ? { details } : {}) }),
  };
  return { logger, lines };
}

const asUser = (userId: string) => ({ headers: { 'x-user-id': userId } });

describeEachEngine('createChatRouter: every endpoint', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    const app = express();
    app.use(
      createChatRouter(() => database.db, {
        getUserId: (req) => req.header('x-user-id'),
        logger: memoryLogger().logger,
      }),
    );
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    await database.destroy();
  });

  it('creates, lists, reads, pages, renames, clears and deletes a chat', async () => {
    const alice = asUser('alice');
    const created = await request(server, 'POST', '/chats', {
      ...alice,
      body: { title: 'Quest log', metadata: { campaign: 'Dragons' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      chat_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user_id: 'alice',
      title: 'Quest log',
      metadata: { campaign: 'Dragons' },
      item_count: 0,
      last_agent_name: null,
      usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
      active_run_id: null,
      pending_approval: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const id: string = created.body.chat_id;

    // A conversation, as agents would have stored it.
    await new PostgresSession({ db: database.db, sessionId: id, agentName: 'Bard' }).addItems([
      { role: 'user', content: 'Where is the dragon?' },
      { type: 'function_call', callId: 'c1', name: 'find_dragon', arguments: '{"region":"north"}', status: 'completed' },
      { type: 'function_call_result', callId: 'c1', name: 'find_dragon', status: 'completed', output: { type: 'text', text: 'in the cave' } },
      { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'In the ' }, { type: 'output_text', text: 'cave.' }] },
    ]);

    const listed = await request(server, 'GET', '/chats', alice);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ chats: [expect.objectContaining({ chat_id: id, item_count: 4 })], next_cursor: null });

    const read = await request(server, 'GET', `/chats/${id}`, alice);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ chat_id: id, title: 'Quest log', item_count: 4 });
    expect(read.body.conversation).toEqual([
      { role: 'user', content: 'Where is the dragon?', agent_name: 'Bard', created_at: expect.any(String) },
      { role: 'tool', content: 'Called find_dragon({"region":"north"})', agent_name: 'Bard', created_at: expect.any(String) },
      { role: 'tool', content: 'find_dragon returned: in the cave', agent_name: 'Bard', created_at: expect.any(String) },
      { role: 'assistant', content: 'In the cave.', agent_name: 'Bard', created_at: expect.any(String) },
    ]);

    const page1 = await request(server, 'GET', `/chats/${id}/items?limit=3`, alice);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(3);
    expect(page1.body.items[0]).toEqual({ role: 'user', content: 'Where is the dragon?' });
    const page2 = await request(server, 'GET', `/chats/${id}/items?limit=3&cursor=${page1.body.next_cursor}`, alice);
    expect(page2.body).toEqual({ items: [expect.objectContaining({ role: 'assistant' })], next_cursor: null });

    const runs = await request(server, 'GET', `/chats/${id}/runs`, alice);
    expect(runs.status).toBe(200);
    expect(runs.body).toEqual({ runs: [], next_cursor: null });

    const renamed = await request(server, 'PUT', `/chats/${id}`, { ...alice, body: { title: 'Dragon hunt' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ title: 'Dragon hunt', metadata: { campaign: 'Dragons' }, item_count: 4 });

    const retagged = await request(server, 'PUT', `/chats/${id}`, { ...alice, body: { metadata: { campaign: 'Giants' } } });
    expect(retagged.body).toMatchObject({ title: 'Dragon hunt', metadata: { campaign: 'Giants' } });

    const cleared = await request(server, 'PUT', `/chats/${id}`, { ...alice, body: { conversation: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ chat_id: id, title: 'Dragon hunt', item_count: 0 });
    expect((await request(server, 'GET', `/chats/${id}`, alice)).body.conversation).toEqual([]);

    const deleted = await request(server, 'DELETE', `/chats/${id}`, alice);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect((await request(server, 'GET', `/chats/${id}`, alice)).status).toBe(404);
    expect((await request(server, 'DELETE', `/chats/${id}`, alice)).status).toBe(404);
  });

  it('answers only the newest 100 items of a 1,000-item chat, and pages back with ?limit= and ?before=', async () => {
    const owner = asUser('long-talker');
    const id: string = (await request(server, 'POST', '/chats', { ...owner, body: { title: 'Epic' } })).body.chat_id;
    const said = Array.from({ length: 1000 }, (_, i) => `message ${i}`);
    await new PostgresSession({ db: database.db, sessionId: id }).addItems(said.map((content) => ({ role: 'user', content })));
    const contents = (body: { conversation: { content: string }[] }) => body.conversation.map((line) => line.content);

    const newest = await request(server, 'GET', `/chats/${id}`, owner);
    expect(newest.status).toBe(200);
    expect(newest.body).toMatchObject({ chat_id: id, item_count: 1000, older_cursor: expect.any(String) });
    expect(contents(newest.body)).toEqual(said.slice(900));

    // Newest page first, each page in chronological order, until older_cursor is null.
    const pages: string[][] = [];
    let before: string | null = null;
    do {
      const page = await request(server, 'GET', `/chats/${id}?limit=300${before ? `&before=${before}` : ''}`, owner);
      expect(page.status).toBe(200);
      pages.unshift(contents(page.body));
      before = page.body.older_cursor;
    } while (before);
    expect(pages.map((page) => page.length)).toEqual([100, 300, 300, 300]);
    expect(pages.flat()).toEqual(said);

    const everything = await request(server, 'GET', `/chats/${id}?limit=1000`, owner);
    expect(contents(everything.body)).toEqual(said);
    expect(everything.body.older_cursor).toBeNull();
  });

  it('answers a garbage limit or before cursor on GET /chats/:id with 400 in the envelope', async () => {
    const owner = asUser('garbage');
    const id: string = (await request(server, 'POST', '/chats', owner)).body.chat_id;
    await new PostgresSession({ db: database.db, sessionId: id }).addItems([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]);
    const itemsCursor = (await request(server, 'GET', `/chats/${id}/items?limit=1`, owner)).body.next_cursor;
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const queries = [
      'limit=0', 'limit=1001', 'limit=ten', 'limit=1.5', 'limit=-1', 'limit=', 'limit=1&limit=2', 'limit[a]=1',
      'before=xyz', 'before=', 'before=%00', `before=${forge({ b: -1 })}`, `before=${forge({ b: 2 ** 31 })}`,
      `before=${forge({ b: '1' })}`, `before=${forge([1])}`, `before=${'A'.repeat(2000)}`, `before=${itemsCursor}`,
      'before[b]=1', 'cursor=x',
    ];
    for (const query of queries) {
      const answer = await request(server, 'GET', `/chats/${id}?${query}`, owner);
      expect(answer.status, query).toBe(400);
      expect(answer.body, query).toMatchObject({ success: false, error: { code: 'invalid_request', message: expect.any(String) } });
    }
  });

  it('creates a chat from an empty body', async () => {
    const created = await request(server, 'POST', '/chats', asUser('bare'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: null, metadata: {} });
  });

  it('answers 401 when getUserId returns nothing', async () => {
    const answer = await request(server, 'GET', '/chats');
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ success: false, error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('stores and reads back SQL-looking text verbatim', async () => {
    const title = "Robert'); DROP TABLE agent_chats;-- ' \" %_ \\";
    const created = await request(server, 'POST', '/chats', { ...asUser("o'hara; --"), body: { title, metadata: { q: "' OR 1=1 --" } } });
    expect(created.status).toBe(201);
    const read = await request(server, 'GET', `/chats/${created.body.chat_id}`, asUser("o'hara; --"));
    expect(read.body).toMatchObject({ title, metadata: { q: "' OR 1=1 --" }, user_id: "o'hara; --" });
  });
});

describePostgres('createChatRouter on PostgreSQL', () => {
  let database: TestDatabase;
  let server: TestServer;
  const log = memoryLogger();
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const app = express();
    app.use(
      createChatRouter(() => database.db, {
        getUserId: (req) => req.header('x-user-id'),
        logger: log.logger,
        bodyLimit: '20kb',
      }),
    );
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    await database.destroy();
  });

  it('pages through 250 chats with no duplicate and no gap, newest first', async () => {
    const owner = asUser('pager');
    const created: string[] = [];
    for (let i = 0; i < 250; i++) {
      created.push((await request(server, 'POST', '/chats', { ...owner, body: { title: `chat ${i}` } })).body.chat_id);
    }
    const seen: string[] = [];
    const times: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await request(server, 'GET', `/chats?limit=40${cursor ? `&cursor=${cursor}` : ''}`, owner);
      expect(answer.status).toBe(200);
      seen.push(...answer.body.chats.map((chat: { chat_id: string }) => chat.chat_id));
      times.push(...answer.body.chats.map((chat: { updated_at: string }) => chat.updated_at));
      cursor = answer.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect([...seen].sort()).toEqual([...created].sort());
    expect([...times].sort().reverse()).toEqual(times);
    const defaultPage = await request(server, 'GET', '/chats', owner);
    expect(defaultPage.body.chats).toHaveLength(20);
  });

  describe('ownership: user B gets exactly a missing chat’s answer on every endpoint for A’s chat', () => {
    let chatId: string;
    const alice = asUser('alice');
    const bob = asUser('bob');
    beforeAll(async () => {
      chatId = (await request(server, 'POST', '/chats', { ...alice, body: { title: 'private' } })).body.chat_id;
      await new PostgresSession({ db: database.db, sessionId: chatId }).addItems([{ role: 'user', content: 'secret' }]);
    });

    const endpoints: [string, string, unknown?][] = [
      ['GET', ''],
      ['GET', '/items'],
      ['GET', '/runs'],
      ['PUT', '', { title: 'stolen' }],
      ['PUT', '', { conversation: null }],
      ['PUT', '', { metadata: { owned: 'by bob' } }],
      ['DELETE', ''],
    ];
    for (const [method, suffix, body] of endpoints) {
      it(`${method} /chats/:id${suffix}${body ? ` ${JSON.stringify(body)}` : ''}`, async () => {
        const theirs = await request(server, method, `/chats/${chatId}${suffix}`, { ...bob, body });
        const missing = await request(server, method, `/chats/00000000-0000-4000-8000-000000000000${suffix}`, {
          ...bob,
          body,
        });
        expect(theirs.status).toBe(404);
        expect(theirs.body).toEqual({ success: false, error: { code: 'chat_not_found', message: 'Chat not found.' } });
        expect(theirs.text).toBe(missing.text);
      });
    }

    it('lists none of A’s chats to B, and A’s chat is untouched', async () => {
      const bobs = await request(server, 'GET', '/chats?limit=100', bob);
      expect(bobs.body.chats.map((chat: { chat_id: string }) => chat.chat_id)).not.toContain(chatId);
      const read = await request(server, 'GET', `/chats/${chatId}`, alice);
      expect(read.body).toMatchObject({ title: 'private', metadata: {}, item_count: 1 });
    });
  });

  describe('bad input gets a 400 envelope and changes nothing', () => {
    let chatId: string;
    const owner = asUser('careful');
    beforeAll(async () => {
      chatId = (await request(server, 'POST', '/chats', { ...owner, body: { title: 'original' } })).body.chat_id;
    });

    const cases: [string, string, string, RequestInit['body'] | object | undefined, Record<string, string>?][] = [
      ['unknown field', 'POST', '/chats', { title: 'x', colour: 'red' }],
      ['wrong type', 'POST', '/chats', { title: 42 }],
      ['metadata not an object', 'POST', '/chats', { metadata: [1, 2] }],
      ['title over 500 characters', 'POST', '/chats', { title: 'x'.repeat(501) }],
      ['metadata over 16 KiB', 'POST', '/chats', { metadata: { blob: 'x'.repeat(17 * 1024) } }],
      ['deeply nested metadata', 'POST', '/chats', { metadata: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }],
      ['title with U+0000', 'POST', '/chats', { title: 'a\u0000b' }],
      ['body that is not JSON', 'POST', '/chats', '{"title": nope'],
      ['JSON that is not an object', 'POST', '/chats', '"just a string"'],
      ['a non-JSON content type', 'POST', '/chats', 'title=x', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['limit 0', 'GET', '/chats?limit=0', undefined],
      ['limit 101', 'GET', '/chats?limit=101', undefined],
      ['limit not a number', 'GET', '/chats?limit=ten', undefined],
      ['malformed cursor', 'GET', '/chats?cursor=not-a-cursor', undefined],
      ['unknown query parameter', 'GET', '/chats?sort=asc', undefined],
      ['unknown query parameter on a create', 'POST', '/chats?draft=1', { title: 'x' }],
      ['unknown query parameter on a rename', 'PUT', '/chats/CHAT?force=1', { title: 'renamed' }],
      ['unknown query parameter on a delete', 'DELETE', '/chats/CHAT?confirm=yes', undefined],
      ['id over 255 characters', 'GET', `/chats/${'x'.repeat(256)}`, undefined],
      ['id with U+0000', 'GET', '/chats/a%00b', undefined],
      ['id that is not URI-decodable', 'GET', '/chats/%E0%A4%A', undefined],
      ['malformed items cursor', 'GET', '/chats/CHAT/items?cursor=xyz', undefined],
      ['items limit 1001', 'GET', '/chats/CHAT/items?limit=1001', undefined],
      ['rename with unknown field', 'PUT', '/chats/CHAT', { title: 'x', owner: 'me' }],
      ['clear with a non-null conversation', 'PUT', '/chats/CHAT', { conversation: [] }],
    ];
    for (const [name, method, path, body, headers] of cases) {
      it(name, async () => {
        const answer = await request(server, method, path.replace('CHAT', chatId), {
          headers: { ...owner.headers, ...headers },
          ...(body === undefined ? {} : { body }),
        });
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({ success: false, error: { code: 'invalid_request', message: expect.any(String) } });
        const chats = await request(server, 'GET', '/chats?limit=100', owner);
        expect(chats.body.chats).toEqual([expect.objectContaining({ chat_id: chatId, title: 'original', metadata: {} })]);
      });
    }

    it('lists zod issues in details', async () => {
      const answer = await request(server, 'POST', '/chats', { ...owner, body: { title: 42, colour: 'red' } });
      expect(answer.body.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: ['title'], code: 'invalid_type' }),
          expect.objectContaining({ code: 'unrecognized_keys' }),
        ]),
      );
    });

    it('answers 413 to a body over the limit', async () => {
      const answer = await request(server, 'POST', '/chats', { ...owner, body: { title: 'x', metadata: { a: 'x'.repeat(30_000) } } });
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'payload_too_large' } });
    });
  });

  it('answers 500 without detail when getUserId throws', async () => {
    const app = express();
    const log = memoryLogger();
    app.use(
      createChatRouter(() => database.db, {
        getUserId: () => {
          throw new Error('token service exploded at /srv/auth.js:42');
        },
        logger: log.logger,
      }),
    );
    const local = await listen(app);
    try {
      for (const [method, path] of [['GET', '/chats'], ['POST', '/chats'], ['GET', '/chats/x'], ['DELETE', '/chats/x']] as const) {
        const answer = await request(local, method, path);
        expect(answer.status).toBe(500);
        expect(answer.body).toEqual({ success: false, error: { code: 'internal_error', message: 'An internal error occurred.' } });
        expect(answer.text).not.toMatch(/exploded|auth\.js|at /);
      }
      expect(log.lines.some((line) => line.level === 'error' && JSON.stringify(line.details).includes('exploded'))).toBe(true);
    } finally {
      await local.close();
    }
  });

  it('answers 405 with Allow to a method the path does not serve', async () => {
    for (const [method, path, allow] of [
      ['PATCH', '/chats/abc', 'GET, PUT, DELETE'],
      ['DELETE', '/chats', 'GET, POST'],
      ['POST', '/chats/abc/items', 'GET'],
      ['PUT', '/chats/abc/runs', 'GET'],
    ] as const) {
      const answer = await request(server, method, path, { headers: { 'x-user-id': 'someone' } });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe(allow);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'method_not_allowed' } });
    }
  });

  it('answers a path whose chat or run id was left out with 404 not_found in the envelope', async () => {
    for (const [method, path] of [
      ['GET', '/chats//items'],
      ['GET', '/chats/abc/runs//stream'],
      ['POST', '/chats/abc/runs//cancel'],
      ['GET', '/Chats/abc/runs//'],
      ['PATCH', '/chats//state'],
    ] as const) {
      const answer = await request(server, method, path, { headers: { 'x-user-id': 'someone' } });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body).toEqual({ success: false, error: { code: 'not_found', message: `No endpoint at ${path}.` } });
    }
  });

  it('answers 401, and warns, when getUserId returns an id that cannot be stored', async () => {
    const app = express();
    const log = memoryLogger();
    const unusable: Record<string, string> = { long: 'x'.repeat(256), nul: 'a\u0000b', surrogate: 'a\ud800b' };
    app.use(createChatRouter(() => database.db, { getUserId: (req) => unusable[req.header('x-kind')!], logger: log.logger }));
    const local = await listen(app);
    try {
      for (const kind of Object.keys(unusable)) {
        const answer = await request(local, 'GET', '/chats', { headers: { 'x-kind': kind } });
        expect(answer.status).toBe(401);
        expect(answer.body.error.code).toBe('unauthorized');
      }
      expect(log.lines.filter((line) => line.level === 'warn' && /unusable user id/.test(line.message))).not.toHaveLength(0);
    } finally {
      await local.close();
    }
  });

  it('answers 500 without SQL or stack when the database fails unexpectedly', async () => {
    // A database that was never migrated: every query fails with "relation does not exist".
    const unmigrated = await createTestDatabase('postgres', { migrate: false });
    const app = express();
    app.use(createChatRouter(() => unmigrated.db, { getUserId: () => 'u', logger: memoryLogger().logger }));
    const local = await listen(app);
    try {
      const answer = await request(local, 'GET', '/chats');
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ success: false, error: { code: 'internal_error', message: 'An internal error occurred.' } });
    } finally {
      await local.close();
      await unmigrated.destroy();
    }
  });

  it('answers 503 database_unavailable, quickly, when the database cannot be reached', async () => {
    const unreachable = new Kysely<any>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 2000 }),
      }),
    });
    const app = express();
    app.use(createChatRouter(() => unreachable, { getUserId: () => 'u', logger: memoryLogger().logger }));
    const local = await listen(app);
    try {
      for (const [method, path, body] of [['GET', '/chats'], ['POST', '/chats', { title: 'x' }], ['GET', '/chats/abc']] as const) {
        const answer = await request(local, method, path, body ? { body } : {});
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ success: false, error: { code: 'database_unavailable' } });
      }
    } finally {
      await local.close();
      await unreachable.destroy();
    }
  });

  it('works behind the host’s own express.json(), and leaves other routes’ bodies alone', async () => {
    const app = express();
    app.use(express.json({ limit: '5mb' }));
    app.use(createChatRouter(() => database.db, { getUserId: () => 'host-json', logger: memoryLogger().logger }));
    // A host route after the router still gets its own non-JSON body.
    app.post('/upload', express.text(), (req, res) => void res.json({ received: req.body }));
    const local = await listen(app);
    try {
      const created = await request(local, 'POST', '/chats', { body: { title: 'parsed by the host' } });
      expect(created.status).toBe(201);
      expect(created.body.title).toBe('parsed by the host');
      const upload = await request(local, 'POST', '/upload', { body: 'plain text', headers: { 'content-type': 'text/plain' } });
      expect(upload.body).toEqual({ received: 'plain text' });
    } finally {
      await local.close();
    }
  });
});

describe('createChatRouter without getUserId', () => {
  it('serves one "anonymous" owner and warns once at start-up', async () => {
    const database = await createTestDatabase('pg-mem');
    const log = memoryLogger();
    const app = express();
    app.use(createChatRouter(() => database.db, { logger: log.logger }));
    const server = await listen(app);
    try {
      expect(log.lines).toEqual([{ level: 'warn', message: expect.stringMatching(/getUserId.*"anonymous"/) }]);
      const created = await request(server, 'POST', '/chats', { body: { title: 'shared' } });
      expect(created.body.user_id).toBe('anonymous');
      await request(server, 'GET', '/chats');
      expect(log.lines).toHaveLength(1);
    } finally {
      await server.close();
      await database.destroy();
    }
  });
});

describe('createChatRouter refuses bad configuration at start-up', () => {
  it.each([
    ['getDb not a function', () => createChatRouter('postgres://db' as never), /getDb must be a function/],
    ['unknown option', () => createChatRouter(() => ({}) as never, { getUserID: () => 'x' } as never), /unknown option "getUserID"/],
    ['getUserId not a function', () => createChatRouter(() => ({}) as never, { getUserId: 'header' as never }), /getUserId/],
    ['logger without warn()', () => createChatRouter(() => ({}) as never, { logger: {} as never }), /logger/],
    ['options not an object', () => createChatRouter(() => ({}) as never, 'x' as never), /options must be an object/],
  ])('%s', (_, create, message) => {
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(message);
  });
});
