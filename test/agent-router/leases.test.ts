import { Agent, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelResponder, modelStream } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { gate, parseEvents, sleep, startAppProcess, transcript } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };

/** Polls until `check` returns a value (or the time is up). */
async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

describePostgres('one writer per session', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { poolSize: 30 });
  });
  afterAll(() => database.destroy());

  async function serve(agent: Agent<any, any>, options: object = {}): Promise<TestServer> {
    const app = express();
    app.use(createAgentRouter(agent, '/a', () => database.db, { getUserId, logger: quiet, ...options }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    return listen(app);
  }

  const runsOf = async (sessionId: string) =>
    (
      await sql<{ status: string; error_code: string | null }>`
        SELECT status, error_code FROM agent_runs WHERE session_id = ${sessionId} ORDER BY started_at
      `.execute(database.db)
    ).rows;

  it('gives 20 concurrent /run calls on one session exactly one success and 409s for the rest', async () => {
    const held = gate();
    const model = new ScriptedModel([
      [assistantMessage('seed')],
      modelResponder(async () => {
        await held.promise;
        return [assistantMessage('the one answer')];
      }),
    ]);
    const server = await serve(new Agent({ name: 'Solo', model }));
    try {
      const sessionId = (await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'seed' } })).body.session_id;
      const calls = Array.from({ length: 20 }, (_, i) =>
        request(server, 'POST', i % 2 ? '/a/run' : '/a/stream', { headers: alice, body: { input: `call ${i}`, session_id: sessionId } }),
      );
      // Everything but the lease holder is answered while the holder still waits for its model.
      const settled: Awaited<(typeof calls)[number]>[] = [];
      const pending = calls.map((call) => call.then((answer) => settled.push(answer)));
      await until(async () => (settled.length === 19 ? true : undefined));
      held.open();
      await Promise.all(pending);
      const busy = settled.filter((answer) => answer.status === 409);
      const ok = settled.filter((answer) => answer.status === 200);
      expect(busy).toHaveLength(19);
      expect(ok).toHaveLength(1);
      for (const answer of busy) {
        expect(answer.body).toMatchObject({ success: false, error: { code: 'session_busy' } });
        // A polling hint, not the lease's remaining life (20 to 30 s by default).
        expect(answer.headers.get('retry-after')).toBe('1');
      }
      const chat = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
      expect(chat.body.item_count).toBe(4);
      // Refused calls never started a run, and were told which run holds the chat.
      const runIds = await sql<{ id: string }>`SELECT id FROM agent_runs WHERE session_id = ${sessionId} ORDER BY started_at`.execute(database.db);
      expect((await runsOf(sessionId)).map((run) => run.status)).toEqual(['completed', 'completed']);
      for (const answer of busy) expect(answer.body.error.details).toEqual({ run_id: runIds.rows[1]!.id });
    } finally {
      await server.close();
    }
  });

  it('runs 20 concurrent calls on 20 sessions without any waiting on another', async () => {
    const held = gate();
    let waiting = 0;
    const model = new ScriptedModel(
      Array.from({ length: 20 }, () =>
        modelResponder(async ({ request: modelRequest }) => {
          waiting++;
          await held.promise;
          return [assistantMessage(`answer to ${transcript(modelRequest.input as AgentInputItem[]).at(-1)}`)];
        }),
      ),
    );
    const server = await serve(new Agent({ name: 'Many', model }));
    try {
      const calls = Array.from({ length: 20 }, (_, i) => request(server, 'POST', '/a/run', { headers: alice, body: { input: `chat ${i}` } }));
      // All 20 reach the model at the same time: none waited for another session's lease.
      await until(async () => (waiting === 20 ? true : undefined));
      held.open();
      const answers = await Promise.all(calls);
      expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      expect(new Set(answers.map((answer) => answer.body.session_id)).size).toBe(20);
      expect(answers.map((answer) => answer.body.final_output).sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `answer to user: chat ${i}`).sort(),
      );
    } finally {
      await server.close();
    }
  });

  it('waits for the lease with onBusy "wait", and answers 409 once the wait times out', async () => {
    const held = gate();
    const model = new ScriptedModel([
      [assistantMessage('seed')],
      modelResponder(async () => {
        await held.promise;
        return [assistantMessage('first')];
      }),
      [assistantMessage('second, after waiting')],
    ]);
    const agent = new Agent({ name: 'Patient', model });
    const server = await serve(agent, { onBusy: 'wait', busyTimeoutMs: 5_000 });
    const impatient = await serve(agent, { onBusy: 'wait', busyTimeoutMs: 200 });
    try {
      const sessionId = (await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'seed' } })).body.session_id;
      const first = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'first', session_id: sessionId } });
      await until(async () => ((await runsOf(sessionId)).length === 2 ? true : undefined));
      const second = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'second', session_id: sessionId } });
      const timedOut = await request(impatient, 'POST', '/a/run', { headers: alice, body: { input: 'third', session_id: sessionId } });
      expect(timedOut.status).toBe(409);
      await sleep(300);
      held.open();
      expect((await first).body.final_output).toBe('first');
      expect((await second).body.final_output).toBe('second, after waiting');
    } finally {
      await server.close();
      await impatient.close();
    }
  });

  it('sends the model a turn committed while its run waited for the chat row, though the lease statement began before it', async () => {
    const model = new ScriptedModel([[assistantMessage('seeded')], [assistantMessage('after the write')]]);
    const server = await serve(new Agent({ name: 'Reader', model }));
    const writer = new pg.Client(database.pool);
    await writer.connect();
    try {
      const sessionId = (await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'seed' } })).body.session_id;
      // Another writer holds the chat row, as a run's final statement does, and adds an item.
      await writer.query('BEGIN');
      await writer.query(
        `WITH chat AS (
           UPDATE agent_chats SET item_count = item_count + 1, next_position = next_position + 1 WHERE id = $1
           RETURNING next_position
         )
         INSERT INTO agent_items (session_id, position, item)
         SELECT $1, next_position - 1, '{"role": "user", "content": "written meanwhile"}'::jsonb FROM chat`,
        [sessionId],
      );
      const run = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'next', session_id: sessionId } });
      // The run's lease statement has its snapshot, and waits for the row. (Asked outside the
      // writer's transaction, which would see the activity as it was when it began.)
      await until(async () => {
        const { rows } = await sql`
          SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%lease_run_id%'
        `.execute(database.db);
        return rows.length > 0 ? true : undefined;
      });
      await writer.query('COMMIT');
      expect((await run).body.final_output).toBe('after the write');
      const sent = JSON.stringify(model.lastCall!.request.input);
      expect(sent).toContain('written meanwhile');
      expect(sent).toContain('seeded');
    } finally {
      await writer.end();
      await server.close();
    }
  });

  it('lets a chat whose run was killed with its process be used again once the lease expires', async () => {
    const child = await startAppProcess({
      DATABASE_URL: database.url!,
      MODEL: 'hang',
      LEASE_TTL_MS: '1500',
    });
    const server = await serve(new Agent({ name: 'Survivor', model: new ScriptedModel([[assistantMessage('back in business')]]) }));
    try {
      const chat = await request(server, 'POST', '/chats', { headers: alice, body: { title: 'orphaned' } });
      const sessionId = chat.body.chat_id;
      // The child takes the lease, and its model never answers.
      void fetch(`${child.url}/bard/run`, {
        method: 'POST',
        headers: { ...alice, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'never answered', session_id: sessionId }),
      }).catch(() => {});
      await until(async () => ((await runsOf(sessionId)).length === 1 ? true : undefined));
      await child.kill('SIGKILL');

      const refused = await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'too soon', session_id: sessionId } });
      expect(refused.status).toBe(409);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(2);

      const answer = await until(async () => {
        const attempt = await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'anyone there?', session_id: sessionId } });
        return attempt.status === 200 ? attempt : undefined;
      });
      expect(answer.body.final_output).toBe('back in business');
      // The dead process's run is closed as failed, not left running for ever.
      expect(await runsOf(sessionId)).toEqual([
        { status: 'failed', error_code: 'run_expired' },
        { status: 'completed', error_code: null },
      ]);
      const read = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
      expect(read.body.conversation.map((line: { content: string }) => line.content)).toEqual(['anyone there?', 'back in business']);
    } finally {
      await child.kill('SIGKILL');
      await server.close();
    }
  });

  it('renews the lease while a long run goes on, so nobody takes the session meanwhile', async () => {
    const held = gate();
    const model = new ScriptedModel([
      [assistantMessage('seed')],
      modelResponder(async () => {
        await held.promise;
        return [assistantMessage('slow but sure')];
      }),
    ]);
    const server = await serve(new Agent({ name: 'Slow', model }), { leaseTtlMs: 300 });
    try {
      const sessionId = (await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'seed' } })).body.session_id;
      const slow = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'take your time', session_id: sessionId } });
      await sleep(1_000); // over three lease lifetimes
      const meanwhile = await request(server, 'POST', '/a/run', { headers: alice, body: { input: 'me too', session_id: sessionId } });
      expect(meanwhile.status).toBe(409);
      held.open();
      expect((await slow).body).toMatchObject({ success: true, final_output: 'slow but sure' });
    } finally {
      await server.close();
    }
  });

  it('aborts a run whose lease was taken over, and stores none of its turn', async () => {
    const held = gate();
    const model = new ScriptedModel([
      // Like a real provider's HTTP call, the model call gives up when the run's signal aborts.
      modelResponder(async ({ request: modelRequest }) => {
        await new Promise((resolve, reject) => {
          void held.promise.then(resolve);
          modelRequest.signal?.addEventListener('abort', () => reject(modelRequest.signal!.reason));
        });
        return [assistantMessage('too late')];
      }),
    ]);
    const server = await serve(new Agent({ name: 'Stalled', model }), { leaseTtlMs: 300 });
    try {
      const chat = await request(server, 'POST', '/chats', { headers: alice, body: {} });
      const sessionId = chat.body.chat_id;
      const stalled = request(server, 'POST', '/a/run', { headers: alice, body: { input: 'hello?', session_id: sessionId } });
      await until(async () => ((await runsOf(sessionId)).length === 1 ? true : undefined));
      // As if the process had stalled past its lease and another run had taken the session.
      await sql`UPDATE agent_chats SET lease_run_id = ${'00000000-0000-4000-8000-000000000001'} WHERE id = ${sessionId}`.execute(database.db);
      const answer = await stalled;
      held.open();
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'lease_lost' } });
      // The run closes itself as lease_lost; the router's sweep, which the run's request starts
      // and which closes any running run whose chat another run holds, may get there first.
      expect(await runsOf(sessionId)).toEqual([{ status: 'failed', error_code: expect.stringMatching(/^(lease_lost|run_expired)$/) }]);
      const read = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
      expect(read.body.item_count).toBe(0);
    } finally {
      await server.close();
    }
  });

  for (const onDisconnect of ['continue', 'abort'] as const) {
    it(`handles a /stream client that goes away mid-run with onDisconnect "${onDisconnect}"`, async () => {
      const held = gate();
      const firstDeltaSent = gate();
      const model = new ScriptedModel([
        modelStream(
          (async function* () {
            yield { type: 'response_started' as const };
            yield { type: 'output_text_delta' as const, delta: 'Once upon ' };
            firstDeltaSent.open();
            await held.promise;
            yield { type: 'output_text_delta' as const, delta: 'a time.' };
            yield {
              type: 'response_done' as const,
              response: {
                id: 'r1',
                usage: { requests: 1, inputTokens: 5, outputTokens: 4, totalTokens: 9, inputTokensDetails: [], outputTokensDetails: [] },
                output: [assistantMessage('Once upon a time.')],
              },
            };
          })(),
        ),
      ]);
      const server = await serve(new Agent({ name: 'Storyteller', model }), { onDisconnect });
      try {
        const client = new AbortController();
        const response = await fetch(`${server.url}/a/stream`, {
          method: 'POST',
          headers: { ...alice, 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'Tell me a story' }),
          signal: client.signal,
        });
        const reader = response.body!.getReader();
        let text = '';
        while (!text.includes('Once upon ')) text += new TextDecoder().decode((await reader.read()).value);
        const started = parseEvents(text.slice(0, text.lastIndexOf('\n\n') + 2))[0]!;
        const sessionId = started.data.session_id;
        await firstDeltaSent.promise;
        client.abort();
        await sleep(100);
        held.open();
        const [run] = await until(async () => {
          const runs = await runsOf(sessionId);
          return runs[0]?.status !== 'running' ? runs : undefined;
        });
        const chat = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
        if (onDisconnect === 'continue') {
          expect(run).toEqual({ status: 'completed', error_code: null });
          expect(chat.body.conversation.map((line: { content: string }) => line.content)).toEqual([
            'Tell me a story',
            'Once upon a time.',
          ]);
        } else {
          // Cancelled: the chat reads as the user saw it, the input and the answer begun.
          expect(run).toEqual({ status: 'cancelled', error_code: 'client_disconnected' });
          expect(chat.body.conversation.map((line: { content: string }) => line.content)).toEqual([
            'Tell me a story',
            'Once upon ',
          ]);
          const items = await request(server, 'GET', `/chats/${sessionId}/items`, { headers: alice });
          expect(items.body.items.at(-1)).toMatchObject({ role: 'assistant', status: 'incomplete' });
        }
        // Either way the lease is free again.
        const lease = await sql<{ lease_run_id: string | null }>`SELECT lease_run_id FROM agent_chats WHERE id = ${sessionId}`.execute(database.db);
        expect(lease.rows[0]!.lease_run_id).toBeNull();
      } finally {
        await server.close();
      }
    });
  }

  for (const endpoint of ['run', 'stream'] as const) {
    it(`answers 410 chat_deleted, not lease_lost, when the chat is deleted under its run (/${endpoint})`, async () => {
      const held = gate();
      const model = new ScriptedModel([
        modelResponder(async () => {
          await held.promise;
          return [assistantMessage('nobody will read this')];
        }),
      ]);
      const server = await serve(new Agent({ name: 'Orphan', model }));
      try {
        const chat = await request(server, 'POST', '/chats', { headers: alice, body: {} });
        const sessionId = chat.body.chat_id;
        const pending =
          endpoint === 'run'
            ? request(server, 'POST', '/a/run', { headers: alice, body: { input: 'hello?', session_id: sessionId } })
            : fetch(`${server.url}/a/stream`, {
                method: 'POST',
                headers: { ...alice, 'content-type': 'application/json' },
                body: JSON.stringify({ input: 'hello?', session_id: sessionId }),
              }).then(async (response) => ({ status: response.status, events: parseEvents(await response.text()) }));
        await until(async () => ((await runsOf(sessionId)).length === 1 ? true : undefined));
        expect((await request(server, 'DELETE', `/chats/${sessionId}`, { headers: alice })).status).toBe(204);
        held.open();
        const answer = await pending;
        if (endpoint === 'run') {
          const body = (answer as Awaited<ReturnType<typeof request>>).body;
          expect(answer.status).toBe(410);
          expect(body).toMatchObject({ success: false, error: { code: 'chat_deleted' } });
        } else {
          const events = (answer as { events: ReturnType<typeof parseEvents> }).events;
          expect(events.at(-1)).toMatchObject({ event: 'run.failed', data: { error: { code: 'chat_deleted' } } });
        }
      } finally {
        await server.close();
      }
    });
  }
});
