import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelResponder } from '@openai/agents/testing';
import express from 'express';
import fc from 'fast-check';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { parseEvents } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, type TestServer } from '../helpers/http.js';
import { recordFigures } from './summary.js';

const BODY_LIMIT = 32 * 1024;

/** Strings that look like SQL, or like trouble for a careless escaper. */
const NASTY = [
  "'; DROP TABLE agent_chats; --",
  "Robert'); DELETE FROM agent_items WHERE ('1'='1",
  '" OR ""="',
  '1; SELECT pg_sleep(10); --',
  "$$; DROP SCHEMA public CASCADE; $$",
  '\\x00\\\\\'',
  '%_%',
  '{"$ne": null}',
  '<script>alert(1)</script>',
  '😀 𝄞 \u2028 \u202e',
];

describePostgres('hostile input', () => {
  let database: TestDatabase;
  let server: TestServer;
  let counted: Kysely<any>;
  let statements = 0;
  const serverErrors: string[] = [];
  let aliceChat: string;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // A handle that counts statements, to prove that bad input never reaches SQL.
    counted = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool(database.pool) }),
      log: (event) => {
        if (event.level === 'query') statements++;
      },
    });
    const lastUserText = (input: AgentInputItem[]) => {
      const user = input.filter((item) => 'role' in item && item.role === 'user').at(-1) as { content: unknown } | undefined;
      return typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content ?? null);
    };
    const runner = new Runner({
      tracingDisabled: true,
      modelProvider: {
        getModel: () =>
          new ScriptedModel([modelResponder(({ request }) => [assistantMessage(`echo: ${lastUserText(request.input as AgentInputItem[])}`)])]),
      },
    });
    const logger = { warn: () => {}, error: (message: string) => void serverErrors.push(message) };
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const app = express();
    app.use(
      createAgentRouter(new Agent({ name: 'Echo', model: 'scripted' }), '/bard', () => counted, {
        getUserId,
        runner,
        logger,
        bodyLimit: BODY_LIMIT,
      }),
    );
    app.use(createChatRouter(() => counted, { getUserId, logger, bodyLimit: BODY_LIMIT }));
    server = await listen(app);
    const created = await send('POST', '/chats', { 'content-type': 'application/json', 'x-user-id': 'alice' }, '{"title":"alice"}');
    aliceChat = created.json.chat_id;
  });
  afterAll(async () => {
    await server.close();
    await counted.destroy();
    await database.destroy();
  });

  async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
    const response = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      type,
      text,
      json: type.includes('application/json') ? JSON.parse(text) : undefined,
    };
  }

  const idArb = fc.oneof(
    fc.constant('ALICE_CHAT'),
    fc.uuid(),
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.constantFrom(...NASTY, '..', '.', ' ', 'a'.repeat(255), 'a'.repeat(256), '\u0000', 'null', 'undefined'),
  );
  /** An id as it appears in a path: percent-encoded, or raw bytes that are not UTF-8. */
  // ('%2e%2e' is left out of the raw forms: the client's URL parser resolves it before sending.)
  const rawIdArb = fc.constantFrom('%ED%A0%80', '%E0%A4%A', '%FF', '%00', '%2e').map((encoded) => ({ id: encoded, encoded }));
  const pathIdArb = fc.oneof(
    {
      weight: 5,
      // "." and ".." cannot be sent as a path segment: the client's URL parser resolves them.
      arbitrary: idArb.filter((id) => id !== '.' && id !== '..').map((id) => ({ id, encoded: encodeURIComponent(id.toWellFormed()) })),
    },
    { weight: 1, arbitrary: rawIdArb },
  );
  const queryArb = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom('limit', 'cursor', 'before', 'offset', '__proto__', 'limit[a]'), fc.string({ maxLength: 10 })),
        fc.oneof(fc.string({ maxLength: 40 }), fc.integer().map(String), fc.constantFrom('0', '-1', '1e9', '1.5', '', 'NaN', ...NASTY)),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => {
      const query = new URLSearchParams();
      for (const [key, value] of pairs) query.append(key.toWellFormed(), value.toWellFormed());
      const text = query.toString();
      return text ? `?${text}` : '';
    });
  const userArb = fc.option(
    fc.oneof(fc.constantFrom('alice', 'bob'), fc.string({ maxLength: 300 }).filter((value) => /^[\x20-\x7e]*$/.test(value))),
    { nil: undefined },
  );
  const contentTypeArb = fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'application/json; charset=nope',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/merge-patch+json',
    'application/octet-stream',
    'garbage',
  );
  const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
  const bodyArb = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
    fc
      .record(
        {
          input: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom(...NASTY), fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 })),
          session_id: idArb.map((id) => (id === 'ALICE_CHAT' ? aliceChat : id)),
          extra: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value)),
    fc
      .record(
        { title: fc.oneof(fc.string({ maxLength: 600 }), fc.constant(null)), metadata: fc.jsonValue({ maxDepth: 5 }), conversation: fc.constantFrom(null, [], 'x') },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value)),
    fc.string({ maxLength: 200 }),
    fc.integer({ min: 1, max: 5_000 }).map((depth) => nested(depth, '[', ']')),
    fc.integer({ min: 1, max: 3_000 }).map((depth) => `{"metadata":${nested(depth, '{"a":', '}').replace(/\{"a":\}/, '{}')}}`),
    fc.integer({ min: 1, max: 3_000 }).map((depth) => `{"input":${nested(depth, '[', ']')}}`),
    fc.integer({ min: BODY_LIMIT - 100, max: BODY_LIMIT + 5_000 }).map((size) => JSON.stringify({ input: 'x'.repeat(size) })),
  );
  const endpointArb = fc.constantFrom(
    ['POST', '/chats'],
    ['GET', '/chats'],
    ['GET', '/chats/ID'],
    ['GET', '/chats/ID/items'],
    ['GET', '/chats/ID/runs'],
    ['PUT', '/chats/ID'],
    ['DELETE', '/chats/ID'],
    ['POST', '/bard/run'],
    ['POST', '/bard/stream'],
    ['GET', '/bard/info'],
    ['PATCH', '/chats/ID'],
    ['GET', '/bard/run'],
  );

  it('answers every generated request with a JSON 4xx or a success, never a 5xx', async () => {
    let cases = 0;
    const statuses: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(endpointArb, pathIdArb, queryArb, userArb, contentTypeArb, bodyArb, async ([method, template], id, query, user, contentType, body) => {
        cases++;
        const path = template.replace('ID', id.id === 'ALICE_CHAT' ? aliceChat : id.encoded) + query;
        const headers: Record<string, string> = {};
        if (user !== undefined) headers['x-user-id'] = user;
        if (contentType !== undefined) headers['content-type'] = contentType;
        const sendBody = method === 'GET' || method === 'DELETE' ? undefined : body;
        const answer = await send(method, path, headers, sendBody);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) {
          expect(answer.json).toMatchObject({ success: false, error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) } });
          expect(answer.text).not.toMatch(/ at .*\.(js|ts):\d|SELECT |INSERT |agent_chats|syntax error/);
        } else if (answer.type.startsWith('text/event-stream')) {
          const last = parseEvents(answer.text).at(-1)!;
          expect(last.event).toBe('run.completed');
        } else if (answer.status !== 204) {
          expect(answer.json).toBeDefined();
        }
        if (sendBody !== undefined && Buffer.byteLength(sendBody) > BODY_LIMIT + 200 && answer.status !== 405) {
          expect(answer.status === 413 || answer.status === 400 || answer.status === 401).toBe(true);
        }
      }),
      { numRuns: 2500 },
    );
    expect(serverErrors).toEqual([]);
    const fiveHundreds = Object.entries(statuses).filter(([status]) => Number(status) >= 500).reduce((sum, [, count]) => sum + count, 0);
    recordFigures('hostile input: every endpoint', { 'fuzz cases tried': cases, 'answers ≥ 500 (must be 0)': fiveHundreds, ...Object.fromEntries(Object.entries(statuses).map(([status, count]) => [`answered ${status}`, count])) });
  });

  it('answers 413 to every body over the limit', async () => {
    let cases = 0;
    let tooLarge = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/chats', '/bard/run', '/bard/stream'),
        fc.integer({ min: BODY_LIMIT + 1, max: BODY_LIMIT * 4 }),
        async (path, size) => {
          cases++;
          const answer = await send('POST', path, { 'content-type': 'application/json', 'x-user-id': 'alice' }, JSON.stringify({ input: 'y'.repeat(size) }));
          if (answer.status === 413 && answer.json?.error?.code === 'payload_too_large') tooLarge++;
        },
      ),
      { numRuns: 60 },
    );
    expect(tooLarge).toBe(cases);
    recordFigures('hostile input: oversized bodies', { 'bodies over the limit': cases, 'answered 413 payload_too_large': tooLarge });
  });

  it('validates ids in paths before any SQL runs', async () => {
    let cases = 0;
    let reached = 0;
    // Each as it goes into the path: percent-encoded text, or bytes that are not UTF-8.
    const invalidId = fc.oneof(
      fc.string({ minLength: 256, maxLength: 400 }).map((value) => encodeURIComponent(value.toWellFormed())),
      fc.string({ maxLength: 20 }).map((value) => encodeURIComponent(`${value}\u0000${value}`.toWellFormed())),
      fc.constantFrom('%ED%A0%80', '%E0%A4%A', '%FF'),
    );
    await fc.assert(
      fc.asyncProperty(invalidId, fc.constantFrom('', '/items', '/runs'), fc.constantFrom('GET', 'PUT', 'DELETE'), async (encoded, suffix, method) => {
        if (method !== 'GET' && suffix) return;
        cases++;
        statements = 0;
        const answer = await send(method, `/chats/${encoded}${suffix}`, { 'content-type': 'application/json', 'x-user-id': 'alice' }, method === 'PUT' ? '{"title":"x"}' : undefined);
        expect(answer.status).toBe(400);
        reached += statements;
      }),
      { numRuns: 300 },
    );
    // And a run on an invalid session id never reaches SQL either.
    statements = 0;
    const run = await send('POST', '/bard/run', { 'content-type': 'application/json', 'x-user-id': 'alice' }, JSON.stringify({ input: 'hi', session_id: 'x'.repeat(256) }));
    expect(run.status).toBe(400);
    reached += statements;
    expect(reached).toBe(0);
    recordFigures('hostile input: ids in paths', { 'invalid ids tried': cases + 1, 'statements they reached (must be 0)': reached });
  });

  it('stores SQL-looking and unusual text verbatim', async () => {
    let cases = 0;
    const text = fc.oneof(
      fc.constantFrom(...NASTY),
      fc.string({ minLength: 1, maxLength: 80 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      fc.tuple(fc.constantFrom(...NASTY), fc.string({ maxLength: 20 })).map(([a, b]) => a + b),
    );
    await fc.assert(
      fc.asyncProperty(text, async (value) => {
        cases++;
        const headers = { 'content-type': 'application/json', 'x-user-id': 'verbatim' };
        const storableTitle = !value.includes('\u0000') && value.isWellFormed();
        const created = await send('POST', '/chats', headers, JSON.stringify(storableTitle ? { title: value, metadata: { value } } : { metadata: {} }));
        expect(created.status).toBe(201);
        const chatId = created.json.chat_id;
        const ran = await send('POST', '/bard/run', headers, JSON.stringify({ input: value, session_id: chatId }));
        expect(ran.status).toBe(200);
        expect(ran.json.final_output).toBe(`echo: ${value}`);
        const read = await send('GET', `/chats/${chatId}`, headers);
        if (storableTitle) expect(read.json).toMatchObject({ title: value, metadata: { value } });
        expect(read.json.conversation.map((line: { content: string }) => line.content)).toEqual([value, `echo: ${value}`]);
        const items = await send('GET', `/chats/${chatId}/items`, headers);
        expect(items.json.items[0]).toEqual({ type: 'message', role: 'user', content: value });
      }),
      { numRuns: 300 },
    );
    recordFigures('hostile input: text stored verbatim', { 'strings round-tripped': cases });
  });
});
