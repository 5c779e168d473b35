import { Agent, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelError, modelResponder } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { applyMergePatch } from '../../src/state/merge-patch.js';
import { SessionState, sessionState } from '../../src/state/session-state.js';
import { gate, stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };
const bob = { 'x-user-id': 'bob' };

/** A tool that sets state keys from its arguments (chat, user: and temp: keys alike). */
const remember = tool({
  name: 'remember',
  description: 'r',
  parameters: z.object({ key: z.string(), value: z.string() }),
  execute: async ({ key, value }, runContext) => {
    sessionState(runContext).set(key, value);
    return 'noted';
  },
});

/** A model that calls `remember` with the given arguments, then answers. */
const remembering = (...sets: { key: string; value: string }[]) =>
  new ScriptedModel([sets.map((set, i) => functionCall('remember', set, { callId: `call_${i}` })), [assistantMessage('Noted.')]]);

/** Dynamic instructions that read the state: the model's input shows what the run saw. */
const stateReader = (seen: unknown[]) =>
  new Agent({
    name: 'Reader',
    instructions: (runContext) => {
      seen.push(sessionState(runContext).toJSON());
      return 'Read the state.';
    },
    model: new ScriptedModel(Array.from({ length: 5 }, () => [assistantMessage('Read.')])),
  });

describeEachEngine('session state', (engine) => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(() => database.destroy());

  async function serve(agents: [Agent<any, any>, string, object?][], chatOptions: object = {}) {
    const app = express();
    for (const [agent, prefix, options] of agents) {
      app.use(createAgentRouter(agent, prefix, () => database.db, { getUserId, logger: quiet, ...options }));
    }
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet, ...chatOptions }));
    server = await listen(app);
    return server;
  }

  it('lets a tool write state that the next run, on another agent and after a restart, reads; temp: keys are never stored', async () => {
    const writer = new Agent({ name: 'Writer', tools: [remember], model: remembering({ key: 'mood', value: 'cheerful' }, { key: 'user:language', value: 'Welsh' }, { key: 'temp:scratch', value: 'gone soon' }) });
    const seen: unknown[] = [];
    const first = await serve([
      [writer, '/write'],
      [stateReader(seen), '/read'],
    ]);
    const written = await stream(first, '/write/stream', { input: 'Remember.' }, alice);
    const chatId = written.events[0]!.data.session_id;
    // Followers are told, just before the terminal event.
    expect(written.events.at(-2)).toMatchObject({ event: 'state.updated', data: { state: { mood: 'cheerful' }, user_state: { language: 'Welsh' } } });
    await request(first, 'POST', '/read/run', { headers: alice, body: { input: 'What do you know?', session_id: chatId } });
    expect(seen).toEqual([{ mood: 'cheerful', 'user:language': 'Welsh' }]);
    await first.close();
    server = undefined;

    // A new process (here: new routers over the same database) sees it too; the user's keys in
    // another chat of theirs as well.
    const again = await serve([[stateReader(seen), '/read']]);
    await request(again, 'POST', '/read/run', { headers: alice, body: { input: 'Still there?', session_id: chatId } });
    await request(again, 'POST', '/read/run', { headers: alice, body: { input: 'New chat.' } });
    expect(seen.slice(1)).toEqual([{ mood: 'cheerful', 'user:language': 'Welsh' }, { 'user:language': 'Welsh' }]);
    const state = await request(again, 'GET', `/chats/${chatId}/state`, { headers: alice });
    expect(state.body).toEqual({ state: { mood: 'cheerful' }, user_state: { language: 'Welsh' } });
  });

  it('leaves the state untouched when the run fails, or is cancelled', async () => {
    const failing = new Agent({
      name: 'Failing',
      tools: [remember],
      model: new ScriptedModel([[functionCall('remember', { key: 'user:lost', value: 'x' }, { callId: 'c1' })], modelError(new Error('down'))]),
    });
    const app = await serve([[failing, '/fail']]);
    const answer = await request(app, 'POST', '/fail/run', { headers: alice, body: { input: 'Try.' } });
    expect(answer.status).toBe(500);
    const chats = await request(app, 'GET', '/chats', { headers: alice });
    const chatId = chats.body.chats[0].chat_id;
    const state = await request(app, 'GET', `/chats/${chatId}/state`, { headers: alice });
    expect(state.body.user_state).not.toHaveProperty('lost');
    expect(state.body.state).toEqual({});
  });

  it('starts new chats with initialState, a value or a function of the request', async () => {
    const seen: unknown[] = [];
    const app = await serve([[stateReader(seen), '/read', { initialState: (req: express.Request) => ({ plan: req.header('x-plan') ?? 'free' }) }]], {
      initialState: { plan: 'created-by-post' },
    });
    await request(app, 'POST', '/read/run', { headers: { ...alice, 'x-plan': 'pro' }, body: { input: 'Hi.' } });
    expect(seen).toEqual([expect.objectContaining({ plan: 'pro' })]);
    const created = await request(app, 'POST', '/chats', { headers: alice, body: {} });
    const state = await request(app, 'GET', `/chats/${created.body.chat_id}/state`, { headers: alice });
    expect(state.body.state).toEqual({ plan: 'created-by-post' });
  });

  it('reads with an ETag and changes with a merge patch under If-Match; a stale ETag gets 412', async () => {
    const app = await serve([[stateReader([]), '/read']]);
    const created = await request(app, 'POST', '/chats', { headers: alice, body: {} });
    const path = `/chats/${created.body.chat_id}/state`;
    const read = await request(app, 'GET', path, { headers: alice });
    const tag = read.headers.get('etag')!;
    expect(tag).toMatch(/^".+"$/);
    const patched = await request(app, 'PATCH', path, {
      headers: { ...alice, 'if-match': tag, 'content-type': 'application/merge-patch+json' },
      body: { state: { theme: 'dark', layout: { sidebar: true } }, user_state: { language: 'Welsh' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ state: { theme: 'dark', layout: { sidebar: true } }, user_state: { language: 'Welsh' } });
    const newTag = patched.headers.get('etag')!;
    expect(newTag).not.toBe(tag);
    // null removes a key (RFC 7396); nested objects merge.
    const merged = await request(app, 'PATCH', path, {
      headers: { ...alice, 'if-match': newTag },
      body: { state: { theme: null, layout: { width: 300 } } },
    });
    expect(merged.body.state).toEqual({ layout: { sidebar: true, width: 300 } });
    const stale = await request(app, 'PATCH', path, { headers: { ...alice, 'if-match': tag }, body: { state: { theme: 'light' } } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('precondition_failed');
    expect((await request(app, 'GET', path, { headers: alice })).body.state).toEqual({ layout: { sidebar: true, width: 300 } });
  });

  it('refuses bad patches: reserved prefixes (400), a state over 64 KiB (413); another user gets 404 as for a missing chat', async () => {
    const app = await serve([[stateReader([]), '/read']]);
    const created = await request(app, 'POST', '/chats', { headers: alice, body: {} });
    const path = `/chats/${created.body.chat_id}/state`;
    expect((await request(app, 'PATCH', path, { headers: alice, body: { state: { 'user:x': 1 } } })).status).toBe(400);
    expect((await request(app, 'PATCH', path, { headers: alice, body: { other: {} } })).status).toBe(400);
    expect((await request(app, 'PATCH', path, { headers: alice, body: { state: [1, 2] } })).status).toBe(400);
    const big = await request(app, 'PATCH', path, { headers: alice, body: { state: { blob: 'x'.repeat(70_000) } } });
    expect([400, 413]).toContain(big.status);
    for (const method of ['GET', 'PATCH'] as const) {
      const foreign = await request(app, method, path, { headers: bob, body: method === 'PATCH' ? { state: { a: 1 } } : undefined });
      const missing = await request(app, method, '/chats/nope/state', { headers: bob, body: method === 'PATCH' ? { state: { a: 1 } } : undefined });
      expect(foreign.status).toBe(404);
      expect(foreign.text).toBe(missing.text);
    }
    expect((await request(app, 'GET', path, { headers: alice })).body.state).toEqual({});
  });
});

describePostgres('session state under concurrency', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('lands the user: keys of two runs on two chats of one user at once (merged key by key, none lost)', async () => {
    const both = gate();
    let arrived = 0;
    // The two runs' first model calls (steps 1 and 2) each call the tool, once both runs have
    // read the user's state; their second calls (steps 3 and 4) answer.
    const firstCall = () =>
      modelResponder(async () => {
        const name = ++arrived === 1 ? 'a' : 'b';
        if (arrived === 2) both.open();
        await both.promise;
        return [functionCall('remember', { key: `user:from_${name}`, value: name }, { callId: `c_${name}` })];
      });
    const model = new ScriptedModel([firstCall(), firstCall(), [assistantMessage('Noted.')], [assistantMessage('Noted.')]]);
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Writer', tools: [remember], model }), '/w', () => database.db, { getUserId, logger: quiet }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const [one, two] = await Promise.all([
        request(server, 'POST', '/w/run', { headers: alice, body: { input: 'chat one' } }),
        request(server, 'POST', '/w/run', { headers: alice, body: { input: 'chat two' } }),
      ]);
      expect([one.status, two.status]).toEqual([200, 200]);
      const { rows } = await sql<{ state: Record<string, string> }>`SELECT state FROM agent_user_state WHERE user_id = 'alice'`.execute(database.db);
      expect(Object.keys(rows[0]!.state).sort()).toEqual(['from_a', 'from_b']);
    } finally {
      await server.close();
    }
  });

  it('refuses a patch with 409 while a run holds the chat', async () => {
    const held = gate();
    const model = new ScriptedModel([
      modelResponder(async () => {
        await held.promise;
        return [assistantMessage('done')];
      }),
    ]);
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Slow', model }), '/s', () => database.db, { getUserId, logger: quiet }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const created = await request(server, 'POST', '/chats', { headers: alice, body: {} });
      const running = request(server, 'POST', '/s/run', { headers: alice, body: { input: 'go', session_id: created.body.chat_id } });
      for (let i = 0; i < 100 && !(await request(server, 'GET', `/chats/${created.body.chat_id}`, { headers: alice })).body.active_run_id; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const busy = await request(server, 'PATCH', `/chats/${created.body.chat_id}/state`, { headers: alice, body: { state: { a: 1 } } });
      expect(busy.status).toBe(409);
      held.open();
      await running;
      const after = await request(server, 'PATCH', `/chats/${created.body.chat_id}/state`, { headers: alice, body: { state: { a: 1 } } });
      expect(after.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('SessionState', () => {
  it('keeps chat, user: and temp: keys apart, and reports only stored changes', () => {
    const state = new SessionState({ mood: 'calm' }, { language: 'Welsh' });
    expect(state.get('mood')).toBe('calm');
    expect(state.get('user:language')).toBe('Welsh');
    expect(state.changes()).toBeUndefined();
    state.set('temp:scratch', 1);
    expect(state.changes()).toBeUndefined();
    state.set('user:theme', 'dark');
    state.delete('user:language');
    state.set('mood', 'busy');
    expect(state.toJSON()).toEqual({ mood: 'busy', 'user:theme': 'dark', 'temp:scratch': 1 });
    expect(state.changes()).toEqual({ chat: { mood: 'busy' }, userSet: { theme: 'dark' }, userDeleted: ['language'] });
  });

  it('refuses values JSON cannot hold, bad keys, and states over 64 KiB', () => {
    const state = new SessionState({}, {});
    expect(() => state.set('n', Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => state.set('d', new Date() as never)).toThrow(InvalidArgumentError);
    expect(() => state.set('', 1)).toThrow(InvalidArgumentError);
    expect(() => state.set('big', 'x'.repeat(70_000))).toThrow(InvalidArgumentError);
    expect(state.has('big')).toBe(false);
  });

  it('applies JSON merge patches as RFC 7396 says', () => {
    expect(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({ a: 'z', c: { d: 'e' } });
    expect(applyMergePatch({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
    expect(applyMergePatch({ a: 1 }, { b: { c: null } })).toEqual({ a: 1, b: {} });
  });
});
