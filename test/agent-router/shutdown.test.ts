import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelResponder } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { gate, sleep, stream } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const alice = { 'x-user-id': 'alice' };

/** A model call that waits for `held`, and gives up like a real provider when the run aborts. */
function heldModel(held: Promise<void>, answer: string) {
  return modelResponder(async ({ request: modelRequest }) => {
    await new Promise<void>((resolve, reject) => {
      void held.then(resolve);
      modelRequest.signal?.addEventListener('abort', () => reject(modelRequest.signal!.reason));
    });
    return [assistantMessage(answer)];
  });
}

describePostgres('graceful shutdown with drain()', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  const runs = async () =>
    (
      await sql<{ status: string; error_code: string | null; lease: string | null }>`
        SELECT r.status, r.error_code, c.lease_run_id AS lease
        FROM agent_runs r JOIN agent_chats c ON c.id = r.session_id ORDER BY r.started_at
      `.execute(database.db)
    ).rows;

  it('refuses new runs, lets running ones finish within the timeout, then resolves', async () => {
    await sql`TRUNCATE agent_chats CASCADE`.execute(database.db);
    const held = gate();
    const agentRouter = createAgentRouter(
      new Agent({ name: 'Finisher', model: new ScriptedModel([heldModel(held.promise, 'finished in time')]) }),
      '/a',
      () => database.db,
      { getUserId: (req) => req.header('x-user-id'), logger: quiet },
    );
    const app = express();
    app.use(agentRouter);
    const server = await listen(app);
    try {
      const running = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'before shutdown' } });
      while ((await runs()).length === 0) await sleep(20);
      const drained = agentRouter.drain({ timeoutMs: 5_000 });
      const refused = await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'during shutdown' } });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ success: false, error: { code: 'shutting_down' } });
      const refusedStream = await stream(server, '/a/stream', { input: 'during shutdown' }, alice);
      expect(refusedStream.status).toBe(503);
      held.open();
      expect((await running).body).toMatchObject({ success: true, final_output: 'finished in time' });
      expect(await drained).toEqual({ finished: 1, cancelled: 0 });
      expect(await runs()).toEqual([{ status: 'completed', error_code: null, lease: null }]);
    } finally {
      await server.close();
    }
  });

  it('cancels and records the runs still going at the timeout, releasing their leases', async () => {
    await sql`TRUNCATE agent_chats CASCADE`.execute(database.db);
    const never = gate();
    const agentRouter = createAgentRouter(
      new Agent({
        name: 'Slowpoke',
        model: new ScriptedModel([heldModel(never.promise, 'never'), heldModel(never.promise, 'never')]),
      }),
      '/a',
      () => database.db,
      { getUserId: (req) => req.header('x-user-id'), logger: quiet },
    );
    const app = express();
    app.use(agentRouter);
    const server = await listen(app);
    try {
      const viaRun = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'one' } });
      const viaStream = stream(server, '/a/stream', { input: 'two' }, alice);
      while ((await runs()).length < 2) await sleep(20);
      expect(await agentRouter.drain({ timeoutMs: 200 })).toEqual({ finished: 0, cancelled: 2 });
      const answer = await viaRun;
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ error: { code: 'shutting_down' } });
      const events = (await viaStream).events;
      expect(events.at(-1)).toMatchObject({ event: 'run.cancelled', data: { error: { code: 'shutting_down' } } });
      expect(await runs()).toEqual([
        { status: 'cancelled', error_code: 'shutting_down', lease: null },
        { status: 'cancelled', error_code: 'shutting_down', lease: null },
      ]);
    } finally {
      await server.close();
    }
  });

  it('counts a request still waiting for its lease, and cancels it with the rest', async () => {
    await sql`TRUNCATE agent_chats CASCADE`.execute(database.db);
    const never = gate();
    const agentRouter = createAgentRouter(
      new Agent({ name: 'Queued', model: new ScriptedModel([heldModel(never.promise, 'never')]) }),
      '/a',
      () => database.db,
      { getUserId: (req) => req.header('x-user-id'), logger: quiet, onBusy: 'wait', busyTimeoutMs: 30_000 },
    );
    const app = express();
    app.use(agentRouter);
    const server = await listen(app);
    try {
      const holder = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'first' } });
      while ((await runs()).length === 0) await sleep(20);
      const sessionId = (await sql<{ id: string }>`SELECT id FROM agent_chats`.execute(database.db)).rows[0]!.id;
      // This one waits for the lease the first run holds.
      const waiting = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'second', session_id: sessionId } });
      await sleep(200);
      expect(await agentRouter.drain({ timeoutMs: 300 })).toEqual({ finished: 0, cancelled: 2 });
      expect((await holder).body.error.code).toBe('shutting_down');
      expect((await waiting).body.error.code).toBe('shutting_down');
      // Only the first ever started a run; it is recorded as cancelled and its lease is free.
      expect(await runs()).toEqual([{ status: 'cancelled', error_code: 'shutting_down', lease: null }]);
    } finally {
      await server.close();
    }
  });
});
