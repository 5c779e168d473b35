import { randomUUID } from 'node:crypto';
import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelResponder } from '@openai/agents/testing';
import express from 'express';
import fc from 'fast-check';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { createMemoryRouter } from '../../src/memories/create-memory-router.js';
import { parseEvents } from '../helpers/agents.js';
import { readChunks } from '../helpers/ai-sdk-client.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';
import { HeldModel, eventsRecorded, keeperAgent, keeperRunner, noRunRunning, userData } from './keeper-agent.js';
import { recordFigures } from './summary.js';

const BODY_LIMIT = 32 * 1024;

const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

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

/** Run-failure codes that stand for a 5xx: a stream ending with one is the server's fault. */
const SERVER_FAULT_CODES = new Set(['internal_error', 'model_error', 'database_unavailable', 'run_timeout', 'shutting_down']);

describePostgres('hostile input on runs, approvals, the AI SDK endpoint, state and memories', () => {
  let database: TestDatabase;
  let server: TestServer;
  const held = new HeldModel();
  const serverErrors: string[] = [];
  const warnings: string[] = [];
  /** What stands for each placeholder of a path or body: the victim's ids and the attacker's. */
  const ids: Record<string, string> = {};
  let victimBefore: string;
  let own = 0;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const logger = { warn: (message: string) => void warnings.push(message), error: (message: string) => void serverErrors.push(message) };
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const db = () => database.db;
    const app = express();
    const keeper = { getUserId, logger, runner: keeperRunner(), memories: { recall: { topK: 5 } }, bodyLimit: '2mb' };
    app.use(createAgentRouter(keeperAgent(), '/keeper', db, keeper));
    // The same agent on another prefix: a run's decisions are taken on its own prefix only.
    app.use(createAgentRouter(keeperAgent(), '/other', db, keeper));
    // Runs that stay running for the whole test (their lease is not even renewed meanwhile).
    app.use(createAgentRouter(new Agent({ name: 'Holder', model: held }), '/held', db, { getUserId, logger, runner: new Runner({ tracingDisabled: true }), leaseTtlMs: 3_600_000 }));
    app.use(createChatRouter(db, { getUserId, logger, bodyLimit: '1mb' }));
    app.use(createMemoryRouter(db, { getUserId, logger }));
    server = await listen(app);

    // The victim: a finished run with state, a run waiting for approval, a running one, a
    // cancelled one, a chat made through the AI SDK endpoint, and memories.
    const victim = { 'x-user-id': 'victim' };
    const finished = (await request(server, 'POST', '/keeper/run', { headers: victim, body: { input: 'my secret plan' } })).body;
    Object.assign(ids, { VICTIM_CHAT: finished.session_id, VICTIM_RUN: finished.run_id });
    await request(server, 'PATCH', `/chats/${ids.VICTIM_CHAT}/state`, { headers: victim, body: { state: { secret: 'plan' }, user_state: { theme: 'dark' } } });
    const waiting = (await request(server, 'POST', '/keeper/run', { headers: victim, body: { input: 'approve call_victim' } })).body;
    expect(waiting.status).toBe('awaiting_approval');
    Object.assign(ids, { VICTIM_WAITING_CHAT: waiting.session_id, VICTIM_WAITING_RUN: waiting.run_id });
    await request(server, 'POST', '/keeper/run', { headers: victim, body: { input: 'remember The victim keeps the keys under the mat.', session_id: ids.VICTIM_CHAT } });
    const ui = await fetch(`${server.url}/keeper/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...victim },
      body: JSON.stringify({ id: 'victim-ui-chat', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'hello from the UI' }] }], trigger: 'submit-message' }),
    });
    await ui.text();
    ids.VICTIM_UI_CHAT = 'victim-ui-chat';
    for (const [name, input] of [['RUNNING', 'hold on'], ['CANCELLED', 'stop me']] as const) {
      const started = (await request(server, 'POST', '/held/run', { headers: victim, body: { input, background: true } })).body;
      await eventsRecorded(database.db, started.run_id, 2);
      Object.assign(ids, { [`VICTIM_${name}_CHAT`]: started.session_id, [`VICTIM_${name}_RUN`]: started.run_id });
    }
    const cancelled = await request(server, 'POST', `/chats/${ids.VICTIM_CANCELLED_CHAT}/runs/${ids.VICTIM_CANCELLED_RUN}/cancel`, { headers: victim });
    expect(cancelled.body.status).toBe('cancelled');
    ids.VICTIM_MEMORY = (await request(server, 'GET', '/memories', { headers: victim })).body.memories[0].memory_id;

    // The attacker's own: a finished run, a run waiting on another prefix, a memory.
    const mallory = { 'x-user-id': 'mallory' };
    const mine = (await request(server, 'POST', '/keeper/run', { headers: mallory, body: { input: 'remember Mallory likes tea.' } })).body;
    Object.assign(ids, { OWN_CHAT: mine.session_id, OWN_RUN: mine.run_id });
    ids.OWN_MEMORY = (await request(server, 'GET', '/memories', { headers: mallory })).body.memories[0].memory_id;
    const elsewhere = (await request(server, 'POST', '/other/run', { headers: mallory, body: { input: 'approve call_own' } })).body;
    Object.assign(ids, { OTHER_PREFIX_CHAT: elsewhere.session_id, OTHER_PREFIX_RUN: elsewhere.run_id });
    const stopped = (await request(server, 'POST', '/held/run', { headers: mallory, body: { input: 'stop me', background: true } })).body;
    await eventsRecorded(database.db, stopped.run_id, 2);
    await request(server, 'POST', `/chats/${stopped.session_id}/runs/${stopped.run_id}/cancel`, { headers: mallory });
    Object.assign(ids, { OWN_CANCELLED_CHAT: stopped.session_id, OWN_CANCELLED_RUN: stopped.run_id });
    victimBefore = await userData(database.db, 'victim');
  });
  afterAll(async () => {
    held.release();
    await noRunRunning(database.db);
    await server.close();
    await database.destroy();
  });

  /** A run of `user`'s waiting for the approval of `call_own`, made for the case that names it. */
  async function ownWaitingRun(user: string | undefined): Promise<{ chat: string; run: string } | undefined> {
    if (user === undefined) return undefined;
    const made = await request(server, 'POST', '/keeper/run', { headers: { 'x-user-id': user }, body: { input: 'approve call_own' } });
    return made.status === 200 ? { chat: made.body.session_id, run: made.body.run_id } : undefined;
  }

  const PLACEHOLDERS = [
    'VICTIM_CHAT', 'VICTIM_WAITING_CHAT', 'VICTIM_RUNNING_CHAT', 'VICTIM_CANCELLED_CHAT', 'VICTIM_UI_CHAT', 'OWN_CHAT', 'OWN_WAITING_CHAT', 'OWN_CANCELLED_CHAT',
    'VICTIM_RUN', 'VICTIM_WAITING_RUN', 'VICTIM_RUNNING_RUN', 'VICTIM_CANCELLED_RUN', 'OWN_RUN', 'OWN_WAITING_RUN', 'OWN_CANCELLED_RUN', 'OTHER_PREFIX_RUN',
    'VICTIM_MEMORY', 'OWN_MEMORY',
  ] as const;
  type Placeholder = (typeof PLACEHOLDERS)[number];
  const placeholder = (name: Placeholder) => `@@${name}@@`;
  /** An id slot: someone's real id (mostly the victim's), a made-up UUID, or garbage. */
  const garbageIdArb = fc
    .oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom(...NASTY, 'a'.repeat(256), '\u0000', 'null', '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'),
    )
    // "." and ".." cannot be sent as a path segment: the client's URL parser resolves them.
    .filter((id) => id !== '.' && id !== '..');
  const slotArb = (kind: 'CHAT' | 'RUN' | 'MEMORY') =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...PLACEHOLDERS.filter((name) => name.endsWith(kind))).map(placeholder) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: garbageIdArb },
    );
  /**
   * A chat and a run for a path: mostly a real pair (the victim's in each state, or the
   * attacker's own), else a real run under someone else's chat, or ids from anywhere.
   */
  const STATES = ['', 'WAITING_', 'RUNNING_', 'CANCELLED_'] as const;
  const pairArb = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...STATES).map((state) => ({ chat: placeholder(`VICTIM_${state}CHAT` as Placeholder), run: placeholder(`VICTIM_${state}RUN` as Placeholder) })) },
    { weight: 4, arbitrary: fc.constantFrom('', 'WAITING_', 'CANCELLED_').map((state) => ({ chat: placeholder(`OWN_${state}CHAT` as Placeholder), run: placeholder(`OWN_${state}RUN` as Placeholder) })) },
    { weight: 2, arbitrary: fc.record({ chat: fc.constant(placeholder('OWN_CHAT')), run: slotArb('RUN') }) },
    { weight: 2, arbitrary: fc.record({ chat: slotArb('CHAT'), run: slotArb('RUN') }) },
  );
  const afterArb = fc.oneof(
    fc.integer({ min: -5, max: 12 }).map(String),
    fc.constantFrom('', ' ', '-1', '1e3', '1.5', '0x10', 'NaN', 'Infinity', '2147483647', '2147483648', '99999999999999999999999', '9'.repeat(400), '1,2', 'abc', ...NASTY),
    fc.string({ maxLength: 30 }),
  );
  /** A header value fetch can send: printable ASCII. */
  const headerValueArb = (special: fc.Arbitrary<string>) =>
    fc.option(fc.oneof(special, fc.string({ maxLength: 60 }).filter((value) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value))), { nil: undefined });
  const lastEventIdArb = headerValueArb(afterArb.filter((value) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value)));
  const ifMatchArb = headerValueArb(fc.constantFrom('*', '"c0-u0"', '"c1-u1"', '"c2-u1"', 'W/"c1-u1"', '"c1-u1", "c2-u2"', '""', '"', 'c1-u1', ' * '));
  /** A page cursor as the server makes them, with values from the edge of what a Date holds, and past it. */
  const forgedCursorArb = fc
    .record({
      t: fc.constantFrom(0, -1, 1.5, 8.64e15, 8.64e15 + 1, 253_402_300_800_000, 1e21),
      i: fc.oneof(fc.uuid(), fc.constantFrom('x', '', '00000000-0000-4000-8000-000000000001')),
    })
    .map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'));
  const queryArb = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom('after', 'after', 'limit', 'cursor', 'cursor', 'after[x]', '__proto__', 'stream'), fc.string({ maxLength: 8 })),
        fc.oneof(afterArb, fc.constantFrom('0', '1', '10000', '10001', '100', '101'), fc.string({ maxLength: 40 }), forgedCursorArb),
      ),
      { maxLength: 3 },
    )
    .map((pairs) => {
      const query = new URLSearchParams();
      for (const [key, value] of pairs) query.append(key.toWellFormed(), value.toWellFormed());
      return query.size ? `?${query}` : '';
    });
  const userArb = fc.oneof(
    { weight: 6, arbitrary: fc.constant('mallory') },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 300 }).filter((value) => /^[\x20-\x7e]*$/.test(value) && value.trim() !== 'victim') },
  );
  /** Text of every kind: SQL-looking, unusual, huge, with U+0000 or a lone surrogate. */
  const textArb = fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY, 'approve call_own', 'approve call_victim', 'remember the moon is cheese', 'recall keys mat victim', 'recall', '') },
    { weight: 1, arbitrary: fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', 'remember \u0000', 'remember \ud800 lone', 'approve \u0000') },
    { weight: 1, arbitrary: fc.constantFrom(8_000, 8_001, 10_000, 10_001, 100_000).map((size) => 'remember '.padEnd(size, 'k')) },
  );
  const jsonArb = fc.jsonValue({ maxDepth: 3 });
  const runBodyArb = fc.record(
    {
      input: fc.oneof(textArb, fc.array(jsonArb, { maxLength: 2 }), fc.constantFrom(null, 1, {})),
      session_id: slotArb('CHAT'),
      background: fc.oneof(fc.constant(true), fc.constantFrom(false, 'true', 1, null, {}, [])),
      extra: jsonArb,
    },
    { requiredKeys: [] },
  );
  const callIdArb = fc.oneof(fc.constantFrom('call_own', 'call_own', 'call_victim', 'call_remember', '', 'x'.repeat(256)), fc.string({ maxLength: 40 }), fc.integer());
  const decisionArb = fc.record(
    {
      call_id: callIdArb,
      approved: fc.oneof(fc.boolean(), fc.constantFrom('yes', 1, null)),
      always: fc.oneof(fc.boolean(), fc.constantFrom('always', 0)),
      message: fc.oneof(textArb, fc.constantFrom(1, null, ['no'])),
      extra: jsonArb,
    },
    { requiredKeys: ['call_id', 'approved'] },
  );
  const decisionsBodyArb = fc.oneof(
    fc.record({ decisions: fc.array(decisionArb, { maxLength: 3 }), stream: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)) }, { requiredKeys: ['decisions'] }),
    // One call decided twice, or many decisions.
    decisionArb.map((decision) => ({ decisions: [decision, decision] })),
    fc.constantFrom(99, 100, 101, 5_000).map((count) => ({ decisions: Array.from({ length: count }, (_, i) => ({ call_id: `call_${i}`, approved: true })) })),
    fc.record({ decisions: fc.oneof(jsonArb, fc.constant([])) }),
  );
  const uiPartArb = fc.oneof(
    fc.record({ type: fc.constant('text'), text: textArb }),
    fc.record({ type: fc.constant('text'), text: fc.constantFrom(1_000_000, 1_000_001).map((size) => 'h'.repeat(size)) }),
    fc.record(
      {
        type: fc.constant('file'),
        mediaType: fc.oneof(fc.constantFrom('image/png', 'application/pdf', '', 'x'.repeat(256)), fc.string({ maxLength: 20 })),
        url: fc.oneof(fc.constantFrom('data:image/png;base64,AAAA', 'https://example.com/a.png', 'javascript:alert(1)', '', 'file:///etc/passwd'), fc.string({ maxLength: 60 })),
        filename: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(1)),
      },
      { requiredKeys: ['type'] },
    ),
    // Forged tool parts: approval answers for calls that are the attacker's, the victim's or nobody's.
    fc.record({
      type: fc.constantFrom('tool-delete_task', 'dynamic-tool', 'tool-', 'tool-remember'),
      toolCallId: callIdArb,
      state: fc.constantFrom('approval-responded', 'approval-responded', 'output-available', 'input-available', 'approval-requested'),
      input: jsonArb,
      output: jsonArb,
      approval: fc.record({ id: callIdArb, approved: fc.oneof(fc.boolean(), fc.constantFrom('yes', null)), reason: fc.oneof(textArb, fc.constant(7)) }, { requiredKeys: [] }),
    }),
    fc.record({ type: fc.oneof(fc.constantFrom('', 'reasoning', 'source-url', 'step-start', 'data-x'), fc.string({ maxLength: 10 })) }),
    jsonArb,
  );
  const uiMessageArb = fc.record(
    {
      id: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(1)),
      role: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('user', 'assistant') }, { weight: 1, arbitrary: fc.constantFrom('system', 'tool', '', 'USER') }),
      parts: fc.oneof({ weight: 5, arbitrary: fc.array(uiPartArb, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(null, 'text', {}, []) }),
      metadata: jsonArb,
    },
    { requiredKeys: ['role', 'parts'] },
  );
  const filler = { id: 'f', role: 'user', parts: [{ type: 'text', text: 'earlier' }] };
  const uiBodyArb = fc.record(
    {
      id: fc.oneof({ weight: 4, arbitrary: slotArb('CHAT') }, { weight: 1, arbitrary: fc.constantFrom(1, null, '') }),
      messages: fc.oneof(
        { weight: 8, arbitrary: fc.array(uiMessageArb, { minLength: 1, maxLength: 4 }) },
        // 10,000 messages (the most accepted) and one more, the newest generated.
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(10_000, 10_001), uiMessageArb).map(([count, last]) => [...Array.from({ length: count - 1 }, () => filler), last]) },
        { weight: 1, arbitrary: fc.oneof(fc.constant([]), jsonArb) },
      ),
      trigger: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('submit-message', 'regenerate-message') }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)) }),
      messageId: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(1)),
      body: jsonArb,
    },
    { requiredKeys: ['messages'] },
  );
  const stateKeyArb = fc.oneof(fc.constantFrom('user:theme', 'temp:x', 'user:', 'temp:', '__proto__', 'constructor', 'prototype', 'secret', ''), fc.string({ maxLength: 12 }));
  const stateObjectArb = fc.oneof(
    fc.dictionary(stateKeyArb, fc.oneof(jsonArb, fc.constant(null)), { maxKeys: 4 }),
    fc.constantFrom(20_000, 70_000).map((size) => ({ big: 'b'.repeat(size) })),
    fc.integer({ min: 30, max: 40 }).map((depth) => JSON.parse(nested(depth, '{"a":', '}').replace(/\{"a":\}/, '{}'))),
    fc.oneof(fc.constantFrom(null, 'state', 1, true), fc.array(jsonArb, { maxLength: 2 })),
  );
  const stateBodyArb = fc.oneof(
    fc.record({ state: stateObjectArb, user_state: stateObjectArb, extra: jsonArb }, { requiredKeys: [] }),
    fc.oneof(fc.array(jsonArb, { maxLength: 2 }), fc.constantFrom(null, 'x', 1)),
  );
  const memoryRunBodyArb = fc.record({
    input: fc.oneof(
      textArb.map((text) => `remember ${text}`),
      textArb.map((text) => `recall ${text}`),
      fc.constantFrom('recall victim keys mat', 'recall & | ! ( ) : * \' <-> <2>', 'recall the a an of', `recall ${'w '.repeat(5_000)}`),
    ),
  });
  const genericBodyArb = fc.oneof(
    fc.constant(undefined),
    jsonArb,
    fc.string({ maxLength: 100 }),
    fc.integer({ min: 1, max: 5_000 }).map((depth) => nested(depth, '[', ']')),
  );
  /** Sent as JSON, or as text when it is one. */
  const asBody = (value: unknown) => (value === undefined ? undefined : typeof value === 'string' && !value.startsWith('{"') ? value : JSON.stringify(value));

  type BodyKind = 'none' | 'generic' | 'run' | 'decisions' | 'ui' | 'state' | 'memory-run';
  /** Every new endpoint (and a wrong method on some), as [family, method, path, body]. */
  const ENDPOINTS: [string, string, string, BodyKind][] = [
    ['follow', 'GET', '/chats/CHAT/runs/RUN/stream', 'none'],
    ['follow', 'GET', '/chats/CHAT/stream', 'none'],
    ['follow', 'POST', '/chats/CHAT/runs/RUN/stream', 'generic'],
    ['run record', 'GET', '/chats/CHAT/runs/RUN', 'none'],
    ['run record', 'GET', '/chats/CHAT/runs', 'none'],
    ['cancel', 'POST', '/chats/CHAT/runs/RUN/cancel', 'generic'],
    ['cancel', 'GET', '/chats/CHAT/runs/RUN/cancel', 'none'],
    ['background runs', 'POST', '/keeper/run', 'run'],
    ['background runs', 'POST', '/keeper/stream', 'run'],
    ['decisions', 'POST', '/keeper/runs/RUN/approvals', 'decisions'],
    ['decisions', 'POST', '/other/runs/RUN/approvals', 'decisions'],
    ['decisions', 'POST', '/keeper/runs/RUN/approvals', 'generic'],
    ['decisions', 'GET', '/keeper/runs/RUN/approvals', 'none'],
    ['AI SDK', 'POST', '/keeper/chat', 'ui'],
    ['AI SDK', 'POST', '/keeper/chat', 'generic'],
    ['AI SDK', 'GET', '/keeper/chat/CHAT/stream', 'none'],
    ['AI SDK', 'GET', '/keeper/chat/CHAT/messages', 'none'],
    ['AI SDK', 'PUT', '/keeper/chat', 'ui'],
    ['state', 'GET', '/chats/CHAT/state', 'none'],
    ['state', 'PATCH', '/chats/CHAT/state', 'state'],
    ['state', 'PATCH', '/chats/CHAT/state', 'generic'],
    ['state', 'PUT', '/chats/CHAT/state', 'state'],
    ['memories', 'GET', '/memories', 'none'],
    ['memories', 'DELETE', '/memories/MEMORY', 'generic'],
    ['memories', 'DELETE', '/memories', 'generic'],
    ['memories', 'POST', '/memories', 'generic'],
    ['memories', 'POST', '/keeper/run', 'memory-run'],
  ];
  const bodyArbs: Record<BodyKind, fc.Arbitrary<unknown>> = {
    none: fc.constant(undefined),
    generic: genericBodyArb,
    run: runBodyArb,
    decisions: decisionsBodyArb,
    ui: uiBodyArb,
    state: stateBodyArb,
    'memory-run': memoryRunBodyArb,
  };
  const caseArb = fc.constantFrom(...ENDPOINTS).chain(([family, method, template, kind]) =>
    fc.record({
      family: fc.constant(family),
      method: fc.constant(method),
      template: fc.constant(template),
      ids: pairArb,
      memory: slotArb('MEMORY'),
      query: queryArb,
      user: userArb,
      lastEventId: lastEventIdArb,
      ifMatch: ifMatchArb,
      contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'application/merge-patch+json', 'text/plain', 'application/json; charset=utf-16') }),
      body: bodyArbs[kind],
    }),
  );

  /** An answer as the client got it, or how long it waited in vain. */
  async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
    try {
      const response = await fetch(`${server.url}${path}`, { method, headers, body, signal: AbortSignal.timeout(15_000) });
      return { status: response.status, headers: response.headers, text: await response.text() };
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') return { status: -1, headers: new Headers(), text: '' };
      throw error;
    }
  }

  /** Why an answer is not a clean 4xx or success, or undefined when it is. */
  function fault(answer: { status: number; headers: Headers; text: string }): string | undefined {
    if (answer.status === -1) return 'hang';
    if (answer.status >= 500) return `status ${answer.status}`;
    const type = answer.headers.get('content-type') ?? '';
    if (answer.status >= 400) {
      const json = type.includes('application/json') ? JSON.parse(answer.text) : undefined;
      if (json?.success !== false || !/^[a-z_]+$/.test(json.error?.code) || typeof json.error?.message !== 'string') return 'not the error envelope';
      if (/ at .*\.(js|ts):\d|SELECT |INSERT |agent_chats|syntax error/.test(answer.text)) return 'detail in the answer';
      return undefined;
    }
    if (answer.headers.get('x-vercel-ai-ui-message-stream') === 'v1') {
      const chunks = answer.text.split('\n\n').filter(Boolean).map((block) => block.replace(/^data: /, ''));
      if (chunks.at(-1) !== '[DONE]') return 'UI message stream without [DONE]';
      const failed = chunks.slice(0, -1).map((chunk) => JSON.parse(chunk)).find((chunk) => chunk.type === 'message-metadata' && chunk.messageMetadata?.error_code);
      if (failed && SERVER_FAULT_CODES.has(failed.messageMetadata.error_code)) return `stream failed with ${failed.messageMetadata.error_code}`;
      return undefined;
    }
    if (type.startsWith('text/event-stream')) {
      const events = parseEvents(answer.text);
      const last = events.at(-1);
      // A follower that has every event already gets an empty stream.
      if (!last) return undefined;
      if (!['run.completed', 'run.failed', 'run.cancelled', 'run.awaiting_approval'].includes(last.event)) return `stream ended with ${last.event}`;
      if (SERVER_FAULT_CODES.has(last.data.error?.code)) return `stream failed with ${last.data.error.code}`;
      return undefined;
    }
    if (answer.status !== 204 && !type.includes('application/json')) return `a ${answer.status} that is not JSON`;
    return undefined;
  }

  it('answers every generated request to the new endpoints with a JSON 4xx or a success, never a 5xx or a hang, and never changes another user’s data', async () => {
    const cases: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    let serverFaults = 0;
    let hangs = 0;
    let victimChanges = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (generated) => {
        const { family, method, template, user } = generated;
        cases[family] = (cases[family] ?? 0) + 1;
        // The victim's ids are theirs; the attacker's waiting run is made fresh when the case names it.
        const values: Record<string, string> = { ...ids };
        const text = JSON.stringify([generated.ids, generated.memory, generated.body] as unknown[]) ?? '';
        if (text.includes('@@OWN_WAITING_')) {
          const waiting = await ownWaitingRun(user);
          values.OWN_WAITING_CHAT = waiting?.chat ?? randomUUID();
          values.OWN_WAITING_RUN = waiting?.run ?? randomUUID();
        }
        const fill = (value: string) => value.replace(/@@([A-Z_]+)@@/g, (whole, name: string) => values[name] ?? whole);
        const inPath = (value: string) => (value.startsWith('@@') ? fill(value) : encodeURIComponent(value.toWellFormed()));
        const path =
          template.replace('CHAT', inPath(generated.ids.chat)).replace('RUN', inPath(generated.ids.run)).replace('MEMORY', inPath(generated.memory)) + generated.query;
        const headers: Record<string, string> = {};
        if (user !== undefined) headers['x-user-id'] = user;
        if (generated.contentType !== undefined) headers['content-type'] = generated.contentType;
        if (generated.lastEventId !== undefined) headers['last-event-id'] = generated.lastEventId;
        if (generated.ifMatch !== undefined) headers['if-match'] = generated.ifMatch;
        const raw = method === 'GET' ? undefined : asBody(generated.body);
        const answer = await send(method, path, headers, raw === undefined ? undefined : fill(raw));
        const problem = fault(answer);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.status === -1) hangs++;
        if (answer.status >= 500 || problem?.startsWith('stream failed')) serverFaults++;
        const changed = (await userData(database.db, 'victim')) !== victimBefore;
        if (changed) victimChanges++;
        expect(problem, `${method} ${path}: ${answer.status} ${answer.text.slice(0, 300)}`).toBeUndefined();
        expect(changed, `${method} ${path} changed the victim's data`).toBe(false);
      }),
      { numRuns: 2000, endOnFailure: true },
    );
    expect(serverErrors).toEqual([]);
    expect(warnings).toEqual([]);
    recordFigures('hostile input: runs, approvals, AI SDK, state, memories', {
      ...Object.fromEntries(Object.entries(cases).sort().map(([family, count]) => [`cases: ${family}`, count])),
      'answers ≥ 500 or failed runs (must be 0)': serverFaults,
      'hangs (must be 0)': hangs,
      'changes to another user’s data (must be 0)': victimChanges,
      ...Object.fromEntries(Object.entries(statuses).map(([status, count]) => [`answered ${status}`, count])),
    });
  });
  /** The run's events as recorded, by id. */
  async function recorded(runId: string): Promise<{ id: number; event: string }[]> {
    const { rows } = await sql<{ id: number; event: string }>`SELECT id, event FROM agent_run_events WHERE run_id = ${runId} ORDER BY id`.execute(database.db);
    return rows.map((row) => ({ id: Number(row.id), event: row.event }));
  }
  const mallory = { 'x-user-id': 'mallory' };
  const focusedCases: Record<string, number> = {};
  let focusedFaults = 0;
  /** Fails the case on a fault, or a change to the victim's data. */
  async function expectClean(answer: Awaited<ReturnType<typeof send>>, what: string, property: string): Promise<void> {
    focusedCases[property] = (focusedCases[property] ?? 0) + 1;
    const problem = fault(answer);
    const changed = (await userData(database.db, 'victim')) !== victimBefore;
    if (problem || changed) focusedFaults++;
    expect(problem, `${what}: ${answer.status} ${answer.text.slice(0, 300)}`).toBeUndefined();
    expect(changed, `${what} changed the victim's data`).toBe(false);
  }

  it('follows a run from any Last-Event-ID and after: exactly the events after it, or a 400, never a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('', 'CANCELLED_', 'OTHER_PREFIX'), lastEventIdArb, fc.option(afterArb, { nil: undefined }), async (state, header, after) => {
        const [chatId, runId] = state === 'OTHER_PREFIX' ? [ids.OTHER_PREFIX_CHAT!, ids.OTHER_PREFIX_RUN!] : [ids[`OWN_${state}CHAT`]!, ids[`OWN_${state}RUN`]!];
        const query = after === undefined ? '' : `?${new URLSearchParams({ after: after.toWellFormed() })}`;
        const answer = await send('GET', `/chats/${chatId}/runs/${runId}/stream${query}`, { ...mallory, ...(header === undefined ? {} : { 'last-event-id': header }) });
        await expectClean(answer, `follow after ${header}/${after}`, 'follow replays from any id');
        if (answer.status !== 200) return;
        const events = parseEvents(answer.text).map(({ id, event }) => ({ id, event }));
        const all = await recorded(runId);
        // A contiguous tail of the run's events, ending with its terminal one; or nothing.
        const first = events.length ? all.findIndex((event) => event.id === events[0]!.id) : all.length;
        expect(events).toEqual(all.slice(first));
        const plain = [header, after].filter((value) => value !== undefined && /^\d{1,9}$/.test(value.trim())).map(Number);
        if (plain.length === [header, after].filter((value) => value !== undefined && value.trim() !== '').length) {
          expect(events).toEqual(all.filter((event) => event.id > Math.max(0, ...plain)));
        }
      }),
      { numRuns: 300, endOnFailure: true },
    );
  });

  it('takes decisions on a waiting run, or refuses them with a 4xx that leaves the run waiting', async () => {
    const hostileDecisions = fc.oneof(
      fc.array(decisionArb, { minLength: 1, maxLength: 3 }),
      decisionArb.map((decision) => [{ ...decision, call_id: 'call_own', approved: true }, decision]),
      fc.record({ approved: fc.boolean(), message: textArb, always: fc.boolean() }).map((decision) => [{ call_id: 'call_own', ...decision }]),
    );
    await fc.assert(
      fc.asyncProperty(hostileDecisions, fc.oneof(fc.boolean(), fc.constant(undefined)), fc.constantFrom('/keeper', '/other'), async (decisions, stream, prefix) => {
        const waiting = (await ownWaitingRun('mallory'))!;
        const body = JSON.stringify({ decisions, ...(stream === undefined ? {} : { stream }) });
        const answer = await send('POST', `${prefix}/runs/${waiting.run}/approvals`, { ...mallory, 'content-type': 'application/json' }, body);
        await expectClean(answer, `decisions ${body.slice(0, 200)}`, 'decisions on a waiting run');
        const run = (await request(server, 'GET', `/chats/${waiting.chat}/runs/${waiting.run}`, { headers: mallory })).body;
        // Refused: nothing changed, the run still waits. Taken: it went on to an end.
        if (answer.status >= 400) expect(run.status).toBe('awaiting_approval');
        else expect(run.status).toBe('completed');
      }),
      { numRuns: 200, endOnFailure: true },
    );
  });

  it('takes the AI SDK endpoint’s approval answers and messages, hostile parts and all, or refuses them with a 4xx', async () => {
    const answeredPart = fc.record({
      type: fc.constantFrom('tool-delete_task', 'dynamic-tool', 'tool-anything'),
      toolCallId: callIdArb,
      state: fc.constant('approval-responded'),
      input: jsonArb,
      approval: fc.record({ id: fc.oneof({ weight: 3, arbitrary: fc.constant('call_own') }, { weight: 1, arbitrary: callIdArb }), approved: fc.oneof(fc.boolean(), fc.constant('yes')), reason: fc.oneof(textArb, fc.constant(7)) }, { requiredKeys: ['id', 'approved'] }),
    });
    const newest = fc.oneof(
      fc.record({ id: fc.constant('a1'), role: fc.constant('assistant'), parts: fc.array(fc.oneof(answeredPart, uiPartArb), { minLength: 1, maxLength: 3 }) }),
      fc.record({ id: fc.constant('u1'), role: fc.constant('user'), parts: fc.array(uiPartArb, { minLength: 1, maxLength: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(newest, fc.constantFrom('waiting', 'new'), async (message, target) => {
        const waiting = target === 'waiting' ? (await ownWaitingRun('mallory'))! : undefined;
        const chatId = waiting?.chat ?? `mallory-ui-${randomUUID()}`;
        const body = JSON.stringify({ id: chatId, messages: [filler, message], trigger: 'submit-message' });
        const answer = await send('POST', '/keeper/chat', { ...mallory, 'content-type': 'application/json' }, body);
        await expectClean(answer, `POST /keeper/chat ${body.slice(0, 300)}`, 'AI SDK approval answers and messages');
        if (answer.status === 200) {
          // Every chunk is one the AI SDK's own client accepts.
          await readChunks(new Response(answer.text, { headers: { 'content-type': 'text/event-stream' } }));
        }
        if (waiting && answer.status >= 400) {
          const run = (await request(server, 'GET', `/chats/${waiting.chat}/runs/${waiting.run}`, { headers: mallory })).body;
          expect(run.status).toBe('awaiting_approval');
        }
      }),
      { numRuns: 200, endOnFailure: true },
    );
  });

  it('applies a state patch exactly as a JSON merge patch, or refuses it with a 4xx that changes nothing', async () => {
    const chatId = ids.OWN_CHAT!;
    await fc.assert(
      fc.asyncProperty(stateBodyArb, fc.constantFrom('current', 'none', 'stale', 'garbage'), async (patch, match) => {
        const before = await request(server, 'GET', `/chats/${chatId}/state`, { headers: mallory });
        const ifMatch = { current: before.headers.get('etag')!, none: undefined, stale: '"c0-u0"', garbage: 'W/garbage' }[match];
        const body = asBody(patch);
        const answer = await send('PATCH', `/chats/${chatId}/state`, { ...mallory, 'content-type': 'application/merge-patch+json', ...(ifMatch ? { 'if-match': ifMatch } : {}) }, body);
        await expectClean(answer, `PATCH state ${body?.slice(0, 200)}`, 'state patches applied exactly');
        const after = await request(server, 'GET', `/chats/${chatId}/state`, { headers: mallory });
        if (answer.status >= 400) {
          expect(after.text).toBe(before.text);
          expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
          return;
        }
        expect(after.text).toBe(answer.text);
        // Each key of the patch: null removes it, anything else replaces or merges into it.
        for (const part of ['state', 'user_state'] as const) {
          const changes = (patch as Record<string, Record<string, unknown> | undefined>)[part];
          if (!changes) continue;
          for (const [key, value] of Object.entries(changes)) {
            if (value === null) expect(Object.hasOwn(after.body[part], key), `${part}.${key} removed`).toBe(false);
            else expect(Object.hasOwn(after.body[part], key), `${part}.${key} set`).toBe(true);
            if (value !== null && (typeof value !== 'object' || Array.isArray(value))) expect(after.body[part][key]).toEqual(value);
          }
        }
      }),
      { numRuns: 250, endOnFailure: true },
    );
    recordFigures('hostile input: focused properties on the new endpoints', {
      ...Object.fromEntries(Object.entries(focusedCases).map(([property, count]) => [`cases: ${property}`, count])),
      'faults or changes to another user’s data (must be 0)': focusedFaults,
    });
  });
});
