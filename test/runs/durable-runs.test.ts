import { Agent, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import type { AnyKysely } from '../../src/db/schema.js';
import { gate, sleep, stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { EventStreamClient, isTerminal } from '../helpers/event-stream-client.js';
import { listen, request, type TestServer } from '../helpers/http.js';
import { WordsModel } from '../helpers/models.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };
const bob = { 'x-user-id': 'bob' };

/** The run's recorded events, as followers read them. */
async function recordedEvents(db: AnyKysely, runId: string) {
  const { rows } = await sql<{ id: number; event: string; data: unknown }>`
    SELECT id, event, data FROM agent_run_events WHERE run_id = ${runId} ORDER BY id
  `.execute(db);
  return rows.map((row) => ({ id: Number(row.id), event: row.event, data: typeof row.data === 'string' ? JSON.parse(row.data) : row.data }));
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describeEachEngine('durable runs', (engine) => {
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

  async function serve(agent: Agent<any, any>, options: object = {}, chatOptions: object = {}) {
    const app = express();
    app.use(createAgentRouter(agent, '/a', () => database.db, { getUserId, logger: quiet, ...options }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet, ...chatOptions }));
    server = await listen(app);
    return server;
  }

  const echo = tool({ name: 'echo', description: 'e', parameters: z.object({ v: z.string() }), execute: async ({ v }) => `echo ${v}` });
  const toolAgent = () =>
    new Agent({
      name: 'Echoer',
      tools: [echo],
      model: new ScriptedModel([[functionCall('echo', { v: 'x' }, { callId: 'c1' })], [assistantMessage('Echoed x.')]]),
    });

  it('records the events /stream sends, with the same ids, names and data, and replays them to a follower', async () => {
    const app = await serve(toolAgent());
    const streamed = await stream(app, '/a/stream', { input: 'Echo x' }, alice);
    const { session_id: chatId, run_id: runId } = streamed.events[0]!.data;
    expect(streamed.events.map((event) => event.event)).toEqual([
      'run.started',
      'tool.called',
      'tool.output',
      'text.delta',
      'run.completed',
    ]);
    expect(await recordedEvents(database.db, runId)).toEqual(streamed.events);
    const follower = await EventStreamClient.open(`${app.url}/chats/${chatId}/runs/${runId}/stream`, { headers: alice });
    expect(follower.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await follower.rest()).toEqual(streamed.events);
    // After the last id seen, by header or query: only the later ones.
    const resumed = await EventStreamClient.open(`${app.url}/chats/${chatId}/runs/${runId}/stream`, {
      headers: { ...alice, 'last-event-id': '3' },
    });
    expect(await resumed.rest()).toEqual(streamed.events.slice(3));
    const byQuery = await EventStreamClient.open(`${app.url}/chats/${chatId}/runs/${runId}/stream?after=4`, { headers: alice });
    expect(await byQuery.rest()).toEqual(streamed.events.slice(4));
  });

  it('with recordEvents: false, writes only the first and terminal events, while /stream still gets all', async () => {
    const app = await serve(new Agent({ name: 'Quiet', model: new WordsModel({ words: 20, delayMs: 5 }) }), { recordEvents: false });
    const streamed = await stream(app, '/a/stream', { input: 'Talk' }, alice);
    expect(streamed.events).toHaveLength(22);
    const recorded = await recordedEvents(database.db, streamed.events[0]!.data.run_id);
    expect(recorded).toEqual([streamed.events[0], streamed.events.at(-1)]);
  });

  it('records the events of /run too: its start, tool calls and the terminal event', async () => {
    const app = await serve(toolAgent());
    const answer = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    expect(answer.status).toBe(200);
    const events = await recordedEvents(database.db, answer.body.run_id);
    expect(events.map((event) => [event.id, event.event])).toEqual([
      [1, 'run.started'],
      [2, 'tool.called'],
      [3, 'tool.output'],
      [4, 'run.completed'],
    ]);
    const { success: _success, ...completed } = answer.body;
    expect(events[3]!.data).toEqual(completed);
  });

  it('answers a background run with 202 at once; it is followed to completion and read as a record', async () => {
    const words = new WordsModel({ words: 10, delayMs: 20 });
    const app = await serve(new Agent({ name: 'Writer', model: words }));
    const started = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Write', background: true } });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ success: true, status: 'running', run_id: expect.any(String), session_id: expect.any(String) });
    const { run_id: runId, session_id: chatId } = started.body;
    const follower = await EventStreamClient.open(`${app.url}/chats/${chatId}/runs/${runId}/stream`, { headers: alice });
    const events = await follower.rest();
    expect(events[0]).toMatchObject({ id: 1, event: 'run.started' });
    expect(events.filter((event) => event.event === 'text.delta').map((event) => event.data.delta).join('')).toBe(words.text);
    expect(events.at(-1)).toMatchObject({ event: 'run.completed', data: { final_output: words.text } });
    const record = await request(app, 'GET', `/chats/${chatId}/runs/${runId}`, { headers: alice });
    expect(record.body).toMatchObject({ run_id: runId, status: 'completed', background: true, final_output: words.text });
    const chat = await request(app, 'GET', `/chats/${chatId}`, { headers: alice });
    expect(chat.body.conversation.map((line: { content: string }) => line.content)).toEqual(['Write', words.text]);
  });

  it('follows the chat’s active run with GET /chats/:id/stream, and answers 204 when none is active', async () => {
    const held = gate();
    const model = new ScriptedModel([[assistantMessage('first')], [assistantMessage('second')]]);
    const app = await serve(new Agent({ name: 'Gated', model: { getResponse: async (r: never) => { await held.promise; return model.getResponse(r); }, getStreamedResponse: (r: never) => model.getStreamedResponse(r) } as never }));
    const chat = await request(app, 'POST', '/chats', { headers: alice, body: {} });
    const chatId = chat.body.chat_id;
    const idle = await request(app, 'GET', `/chats/${chatId}/stream`, { headers: alice });
    expect(idle.status).toBe(204);
    expect(idle.text).toBe('');
    const running = request(app, 'POST', '/a/run', { headers: alice, body: { input: 'go', session_id: chatId } });
    const active = await until(async () => (await request(app, 'GET', `/chats/${chatId}`, { headers: alice })).body.active_run_id ?? undefined);
    const follower = await EventStreamClient.open(`${app.url}/chats/${chatId}/stream`, { headers: alice });
    held.open();
    const events = await follower.rest();
    expect(events[0]).toMatchObject({ event: 'run.started', data: { run_id: active } });
    expect(events.at(-1)).toMatchObject({ event: 'run.completed', data: { run_id: active, final_output: 'first' } });
    expect((await running).status).toBe(200);
    expect((await request(app, 'GET', `/chats/${chatId}/stream`, { headers: alice })).status).toBe(204);
  });

  it('cancels a run from the chat router: it stops, ends with run.cancelled and keeps what was said', async () => {
    const words = new WordsModel({ words: 200, delayMs: 10 });
    const app = await serve(new Agent({ name: 'Talker', model: words }));
    const client = await EventStreamClient.open(`${app.url}/a/stream`, { method: 'POST', headers: alice, body: { input: 'Talk' } });
    const head = await client.until((event) => event.event === 'text.delta' && event.data.delta === ' w5');
    const { session_id: chatId, run_id: runId } = head[0]!.data;
    const cancel = await request(app, 'POST', `/chats/${chatId}/runs/${runId}/cancel`, { headers: alice });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ run_id: runId, status: 'cancelled' });
    const events = [...head, ...(await client.rest())];
    expect(events.filter(isTerminal)).toEqual([
      expect.objectContaining({ event: 'run.cancelled', data: { error: { code: 'run_cancelled', message: expect.any(String) } } }),
    ]);
    const said = events.filter((event) => event.event === 'text.delta').map((event) => event.data.delta).join('');
    expect(said.length).toBeLessThan(words.text.length);
    const items = await request(app, 'GET', `/chats/${chatId}/items`, { headers: alice });
    expect(items.body.items).toEqual([
      { type: 'message', role: 'user', content: 'Talk' },
      { type: 'message', role: 'assistant', status: 'incomplete', content: [{ type: 'output_text', text: said }] },
    ]);
    const record = await request(app, 'GET', `/chats/${chatId}/runs/${runId}`, { headers: alice });
    expect(record.body).toMatchObject({ status: 'cancelled', error: { code: 'run_cancelled' } });
    // Twice is harmless; a finished run cannot be cancelled.
    expect((await request(app, 'POST', `/chats/${chatId}/runs/${runId}/cancel`, { headers: alice })).body).toEqual({
      run_id: runId,
      status: 'cancelled',
    });
    const done = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'again', session_id: chatId } });
    const finished = await request(app, 'POST', `/chats/${chatId}/runs/${done.body.run_id}/cancel`, { headers: alice });
    expect(finished.status).toBe(409);
    expect(finished.body.error).toMatchObject({ code: 'run_finished', details: { status: 'completed' } });
  });

  it('never stores a tool call without its output when a run is cancelled while its tool runs', async () => {
    const inTool = gate();
    const release = gate();
    const slow = tool({
      name: 'slow_lookup',
      description: 's',
      parameters: z.object({}),
      execute: async () => {
        inTool.open();
        await release.promise;
        return 'found';
      },
    });
    const model = new ScriptedModel([[functionCall('slow_lookup', {}, { callId: 'c1' })], [assistantMessage('never said')]]);
    const app = await serve(new Agent({ name: 'Looker', tools: [slow], model }));
    const client = await EventStreamClient.open(`${app.url}/a/stream`, { method: 'POST', headers: alice, body: { input: 'Look it up' } });
    const [started] = await client.until((event) => event.event === 'run.started');
    await inTool.promise;
    const { session_id: chatId, run_id: runId } = started!.data;
    const cancelling = request(app, 'POST', `/chats/${chatId}/runs/${runId}/cancel`, { headers: alice });
    // The tool finishes only once the cancel has reached the run (it records the request after
    // aborting a run of its own instance): a fixed pause here lost the race on a busy machine.
    await expect
      .poll(async () => (await request(app, 'GET', `/chats/${chatId}/runs/${runId}`, { headers: alice })).body.cancel_requested)
      .toBe(true);
    release.open();
    expect((await cancelling).body.status).toBe('cancelled');
    expect((await client.rest()).filter(isTerminal).map((event) => event.event)).toEqual(['run.cancelled']);
    const items = await request(app, 'GET', `/chats/${chatId}/items`, { headers: alice });
    const kinds = items.body.items.map((item: { type?: string; role?: string }) => item.role ?? item.type);
    expect(kinds.filter((kind: string) => kind === 'function_call').length).toBe(
      kinds.filter((kind: string) => kind === 'function_call_result').length,
    );
    expect(items.body.items[0]).toMatchObject({ role: 'user', content: 'Look it up' });
  });

  it('ends every run with exactly one terminal event: completed, failed or cancelled', async () => {
    const failing = new Agent({ name: 'Failing', model: new ScriptedModel([]) });
    const app = await serve(failing);
    const failed = await stream(app, '/a/stream', { input: 'fail' }, alice);
    expect(failed.events.filter(isTerminal).map((event) => event.event)).toEqual(['run.failed']);
    expect((await recordedEvents(database.db, failed.events[0]!.data.run_id)).filter(isTerminal)).toHaveLength(1);
  });

  it('prunes the events of finished runs after the retention, keeping the terminal one a follower still gets', async () => {
    const app = await serve(toolAgent());
    const first = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    await sql`UPDATE agent_runs SET finished_at = now() - interval '1 hour' WHERE id = ${first.body.run_id}`.execute(database.db);
    const { pruneRunEvents } = await import('../../src/runs/event-queries.js');
    await pruneRunEvents(database.db, 60_000);
    const events = await recordedEvents(database.db, first.body.run_id);
    expect(events.map((event) => event.event)).toEqual(['run.completed']);
    const follower = await EventStreamClient.open(`${app.url}/chats/${first.body.session_id}/runs/${first.body.run_id}/stream`, {
      headers: alice,
    });
    expect(await follower.rest()).toEqual([expect.objectContaining({ id: 4, event: 'run.completed' })]);
    // The record and the chat's items stay.
    const chat = await request(app, 'GET', `/chats/${first.body.session_id}`, { headers: alice });
    expect(chat.body.item_count).toBe(4);
  });

  it('prunes old events in the router’s own sweep, with the eventRetentionMs option', async () => {
    const first = await serve(toolAgent());
    const old = await request(first, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    await first.close();
    await sql`UPDATE agent_runs SET finished_at = now() - interval '2 hours' WHERE id = ${old.body.run_id}`.execute(database.db);
    // A new router sweeps on its first request.
    const app = await serve(toolAgent(), { eventRetentionMs: 60 * 60 * 1000 });
    await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    await until(async () => ((await recordedEvents(database.db, old.body.run_id)).length === 1 ? true : undefined));
    expect((await recordedEvents(database.db, old.body.run_id)).map((event) => event.event)).toEqual(['run.completed']);
  });

  it('keeps an idle follower stream open with heartbeats', async () => {
    const held = gate();
    const slow = new ScriptedModel([[assistantMessage('late')]]);
    const app = await serve(
      new Agent({ name: 'Slow', model: { getResponse: async (r: never) => { await held.promise; return slow.getResponse(r); }, getStreamedResponse: (r: never) => slow.getStreamedResponse(r) } as never }),
      {},
      { heartbeatMs: 30 },
    );
    const running = request(app, 'POST', '/a/run', { headers: alice, body: { input: 'wait' } });
    const runId = await until(async () => {
      const { rows } = await sql<{ id: string; session_id: string }>`SELECT id, session_id FROM agent_runs WHERE status = 'running'`.execute(database.db);
      return rows[0];
    });
    const follower = await EventStreamClient.open(`${app.url}/chats/${runId.session_id}/runs/${runId.id}/stream`, { headers: alice });
    const first = await follower.next();
    expect(first).toMatchObject({ event: 'run.started' });
    await sleep(200);
    held.open();
    await follower.rest();
    expect(follower.heartbeats).toBeGreaterThanOrEqual(2);
    await running;
  });

  it('answers another user exactly as for a missing chat on every new endpoint', async () => {
    const app = await serve(toolAgent());
    const own = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    const chatId = own.body.session_id;
    const runId = own.body.run_id;
    const missingChat = 'no-such-chat';
    for (const [method, path] of [
      ['GET', `/chats/${chatId}/runs/${runId}`],
      ['GET', `/chats/${chatId}/runs/${runId}/stream`],
      ['POST', `/chats/${chatId}/runs/${runId}/cancel`],
      ['GET', `/chats/${chatId}/stream`],
    ] as const) {
      const foreign = await request(app, method, path, { headers: bob });
      const missing = await request(app, method, path.replace(chatId, missingChat), { headers: bob });
      expect(foreign.status, path).toBe(404);
      expect(foreign.text, path).toBe(missing.text);
      expect(foreign.body.error.code).toBe('chat_not_found');
    }
    // The run itself, on the owner's own chat but unknown: 404 run_not_found.
    const unknownRun = await request(app, 'GET', `/chats/${chatId}/runs/00000000-0000-4000-8000-000000000000`, { headers: alice });
    expect(unknownRun.body.error.code).toBe('run_not_found');
  });

  it('refuses a garbage Last-Event-ID or after with 400', async () => {
    const app = await serve(toolAgent());
    const own = await request(app, 'POST', '/a/run', { headers: alice, body: { input: 'Echo x' } });
    const path = `/chats/${own.body.session_id}/runs/${own.body.run_id}/stream`;
    for (const headers of [{ 'last-event-id': 'abc' }, { 'last-event-id': '-1' }, { 'last-event-id': '1e99' }]) {
      const answer = await request(app, 'GET', path, { headers: { ...alice, ...headers } });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_request');
    }
    for (const query of ['?after=x', '?after=99999999999999', '?after=1&after=2', '?other=1']) {
      expect((await request(app, 'GET', `${path}${query}`, { headers: alice })).status).toBe(400);
    }
  });
});

describePostgres('durable runs on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('writes text deltas in batches, not one statement per delta', async () => {
    const statements: string[] = [];
    const counted = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool(database.pool) }),
      log: (event) => {
        if (event.level === 'query') statements.push(event.query.sql);
      },
    });
    const words = new WordsModel({ words: 200, delayMs: 1 });
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Batched', model: words }), '/a', () => counted, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const streamed = await stream(server, '/a/stream', { input: 'Talk' }, alice);
      const deltas = streamed.events.filter((event) => event.event === 'text.delta');
      expect(deltas).toHaveLength(200);
      const inserts = statements.filter((text) => /INSERT INTO agent_run_events/.test(text) && /FOR SHARE/.test(text));
      // 200 deltas over about 200 ms, written every 50 ms at most.
      expect(inserts.length).toBeGreaterThan(0);
      expect(inserts.length).toBeLessThan(deltas.length / 10);
      expect(await recordedEvents(database.db, streamed.events[0]!.data.run_id)).toEqual(streamed.events);
    } finally {
      await server.close();
      await counted.destroy();
    }
  });

  it('never lets a reader see a finished run without its terminal event, or the other way round', async () => {
    const app = express();
    const model = new ScriptedModel(Array.from({ length: 40 }, () => [assistantMessage('done')]));
    app.use(createAgentRouter(new Agent({ name: 'Quick', model }), '/a', () => database.db, { getUserId, logger: quiet }));
    const server = await listen(app);
    let stop = false;
    const torn: unknown[] = [];
    const reader = (async () => {
      let reads = 0;
      while (!stop) {
        const { rows } = await sql<{ finished: boolean; terminal: boolean }>`
          SELECT run.status <> 'running' AS finished,
                 EXISTS (SELECT 1 FROM agent_run_events e WHERE e.run_id = run.id AND e.event IN ('run.completed', 'run.failed', 'run.cancelled')) AS terminal
          FROM agent_runs AS run
        `.execute(database.db);
        reads++;
        torn.push(...rows.filter((row) => row.finished !== row.terminal));
      }
      return reads;
    })();
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => request(server, 'POST', '/a/run', { headers: alice, body: { input: `q${i}` } })));
    } finally {
      stop = true;
      await server.close();
    }
    expect(await reader).toBeGreaterThan(0);
    expect(torn).toEqual([]);
  });
});
