import { Agent, Usage, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createAgentRouter, type AgentRouter } from '../../src/agent-router/create-agent-router.js';
import type { AgentRouterOptions } from '../../src/agent-router/agent-router-options.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import type { RunHookRecord } from '../../src/runs/run-hooks.js';
import { expireStaleRuns } from '../../src/runs/run-queries.js';
import { gate, stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };
const usage = (tokens: number) => new Usage({ requests: 1, inputTokens: tokens, outputTokens: tokens, totalTokens: 2 * tokens });

/** Records every hook call and every logged error. */
function recorder() {
  const calls: { hook: 'start' | 'finish'; run: RunHookRecord }[] = [];
  const errors: string[] = [];
  const logger = { warn: () => {}, error: (message: string) => void errors.push(message) };
  const hooks = {
    onRunStart: (run: RunHookRecord) => void calls.push({ hook: 'start', run }),
    onRunFinish: (run: RunHookRecord) => void calls.push({ hook: 'finish', run }),
  };
  return { calls, errors, logger, hooks };
}

/** Polls until `check` holds: onRunFinish is called after the answer is sent. */
async function eventually(check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !check(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describeEachEngine('run hooks (onRunStart, onRunFinish)', (engine) => {
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

  async function serve(agent: Agent<any, any>, prefix: string, options: AgentRouterOptions) {
    const app = express();
    const router = createAgentRouter(agent, prefix, () => database.db, { getUserId, ...options });
    app.use(router);
    app.use(createChatRouter(() => database.db, { getUserId, logger: options.logger }));
    server = await listen(app);
    return { server, router };
  }

  it('calls each hook once per run, with the run record and its user: /run, /stream and a background run', async () => {
    const { calls, hooks, logger } = recorder();
    const order: string[] = [];
    const model = new ScriptedModel(
      Array.from({ length: 3 }, (_, index) =>
        modelResponder(() => {
          order.push('model');
          return { output: [assistantMessage(`Answer ${index + 1}.`)], usage: usage(10), responseId: `r${index}` };
        }),
      ),
    );
    const { server: app } = await serve(new Agent({ name: 'Counter', model }), '/hooks-runs', {
      logger,
      onRunStart: (run) => {
        order.push('start');
        hooks.onRunStart(run);
      },
      onRunFinish: hooks.onRunFinish,
    });
    const first = await request(app, 'POST', '/hooks-runs/run', { headers: alice, body: { input: 'One.' } });
    expect(first.status).toBe(200);
    const chatId = first.body.session_id;
    const second = await stream(app, '/hooks-runs/stream', { input: 'Two.', session_id: chatId }, alice);
    expect(second.events.at(-1)!.event).toBe('run.completed');
    const third = await request(app, 'POST', '/hooks-runs/run', { headers: alice, body: { input: 'Three.', session_id: chatId, background: true } });
    expect(third.status).toBe(202);
    await eventually(() => calls.filter((call) => call.hook === 'finish').length === 3);

    // onRunStart is awaited before the agent starts: each run's start comes before its model call.
    expect(order).toEqual(['start', 'model', 'start', 'model', 'start', 'model']);
    const runIds = [first.body.run_id, second.events[0]!.data.run_id, third.body.run_id];
    for (const runId of runIds) {
      const mine = calls.filter((call) => call.run.run_id === runId);
      expect(mine.map((call) => call.hook)).toEqual(['start', 'finish']);
      expect(mine[0]!.run).toMatchObject({ run_id: runId, chat_id: chatId, user_id: 'alice', status: 'running', prefix: '/hooks-runs', finished_at: null });
      // The final record, as GET /chats/:id/runs/:run_id answers it, plus whose run it was.
      const record = await request(app, 'GET', `/chats/${chatId}/runs/${runId}`, { headers: alice });
      expect(mine[1]!.run).toEqual({ ...record.body, user_id: 'alice' });
      expect(mine[1]!.run).toMatchObject({ status: 'completed', usage: { requests: 1, total_tokens: 20 } });
    }
    expect(calls.find((call) => call.run.run_id === runIds[1])!.run.streamed).toBe(true);
    expect(calls.find((call) => call.run.run_id === runIds[2])!.run.background).toBe(true);
  });

  it('reports a failed run to onRunFinish with its error', async () => {
    const { calls, hooks, logger } = recorder();
    const model = new ScriptedModel([
      modelResponder(() => {
        throw new Error('The model broke.');
      }),
    ]);
    const { server: app } = await serve(new Agent({ name: 'Broken', model }), '/hooks-failed', { logger, ...hooks });
    const answer = await request(app, 'POST', '/hooks-failed/run', { headers: alice, body: { input: 'Hello.' } });
    expect(answer.status).toBe(500);
    await eventually(() => calls.length === 2);
    expect(calls[1]).toMatchObject({ hook: 'finish', run: { status: 'failed', error: { code: 'internal_error' }, user_id: 'alice' } });
  });

  it('never fails or loses a run for a hook that throws or rejects: it logs the error', async () => {
    const errors: string[] = [];
    const logger = { warn: () => {}, error: (message: string) => void errors.push(message) };
    const model = new ScriptedModel([[assistantMessage('Still here.')]]);
    const { server: app } = await serve(new Agent({ name: 'Sturdy', model }), '/hooks-throw', {
      logger,
      onRunStart: () => {
        throw new Error('audit log is down');
      },
      onRunFinish: async () => {
        throw new Error('billing is down');
      },
    });
    const answer = await request(app, 'POST', '/hooks-throw/run', { headers: alice, body: { input: 'Hello.' } });
    expect(answer.status).toBe(200);
    expect(answer.body.final_output).toBe('Still here.');
    const chat = await request(app, 'GET', `/chats/${answer.body.session_id}/items`, { headers: alice });
    expect(chat.body.items).toHaveLength(2);
    await eventually(() => errors.length === 2);
    expect(errors).toEqual([
      `The onRunStart hook failed for run ${answer.body.run_id}`,
      `The onRunFinish hook failed for run ${answer.body.run_id}`,
    ]);
  });

  it('answers without waiting for onRunFinish, and drain() waits for it', async () => {
    const held = gate();
    const done: string[] = [];
    const model = new ScriptedModel([[assistantMessage('Quick.')]]);
    const { server: app, router } = await serve(new Agent({ name: 'Quick', model }), '/hooks-drain', {
      logger: { warn: () => {}, error: () => {} },
      onRunFinish: async () => {
        await held.promise;
        done.push('hook');
      },
    });
    const answer = await request(app, 'POST', '/hooks-drain/run', { headers: alice, body: { input: 'Hello.' } });
    expect(answer.status).toBe(200);
    expect(done).toEqual([]);
    const drained = (router as AgentRouter).drain({ timeoutMs: 5_000 }).then(() => done.push('drained'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(done).toEqual([]);
    held.open();
    await drained;
    expect(done).toEqual(['hook', 'drained']);
  });

  it('reports a run that waited for approval once, when it ends: approved, or cancelled through the chat router', async () => {
    const { calls, hooks, logger } = recorder();
    const deleted: string[] = [];
    const deleteTask = tool({
      name: 'delete_task',
      description: 'Deletes a task.',
      parameters: z.object({ task: z.string() }),
      needsApproval: true,
      execute: async ({ task }) => {
        deleted.push(task);
        return `deleted ${task}`;
      },
    });
    const model = new ScriptedModel([
      modelResponder(() => ({ output: [functionCall('delete_task', { task: 'milk' }, { callId: 'call_1' })], usage: usage(10), responseId: 'a' })),
      modelResponder(() => ({ output: [assistantMessage('Deleted.')], usage: usage(5), responseId: 'b' })),
      [functionCall('delete_task', { task: 'eggs' }, { callId: 'call_2' })],
    ]);
    const { server: app } = await serve(new Agent({ name: 'Janitor', model, tools: [deleteTask] }), '/hooks-approvals', { logger, ...hooks });
    const waiting = await request(app, 'POST', '/hooks-approvals/run', { headers: alice, body: { input: 'Delete milk.' } });
    expect(waiting.body.status).toBe('awaiting_approval');
    const runId = waiting.body.run_id;
    const chatId = waiting.body.session_id;
    expect(calls.map((call) => call.hook)).toEqual(['start']);
    const approved = await request(app, 'POST', `/hooks-approvals/runs/${runId}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_1', approved: true }] },
    });
    expect(approved.body.status).toBe('completed');
    await eventually(() => calls.length === 2);
    expect(calls[1]).toMatchObject({ hook: 'finish', run: { run_id: runId, status: 'completed', usage: { requests: 2, total_tokens: 30 } } });

    // A second one waits, and is cancelled through the chat router: the router on its prefix reports it.
    const second = await request(app, 'POST', '/hooks-approvals/run', { headers: alice, body: { input: 'Delete eggs.', session_id: chatId } });
    expect(second.body.status).toBe('awaiting_approval');
    const cancelled = await request(app, 'POST', `/chats/${chatId}/runs/${second.body.run_id}/cancel`, { headers: alice });
    expect(cancelled.status).toBe(200);
    await eventually(() => calls.length === 4);
    expect(calls.slice(2).map((call) => [call.hook, call.run.run_id, call.run.status])).toEqual([
      ['start', second.body.run_id, 'running'],
      ['finish', second.body.run_id, 'cancelled'],
    ]);
    expect(deleted).toEqual(['milk']);
  });

  it('rejects a hook that is not a function, at start-up', () => {
    const agent = new Agent({ name: 'A', model: new ScriptedModel([]) });
    expect(() => createAgentRouter(agent, '/a', () => database.db, { onRunFinish: 'bill' as never })).toThrow(/onRunFinish/);
  });
});

describePostgres('run hooks: a run closed by another writer', () => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await server?.close();
    await database.destroy();
  });

  it('is reported once, by whoever closed it: expired by a sweep, its own end (lease lost) reports nothing', async () => {
    const { calls, hooks, logger } = recorder();
    const held = gate();
    const model = new ScriptedModel([
      modelResponder(async () => {
        await held.promise;
        return [assistantMessage('Too late.')];
      }),
    ]);
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Slow', model }), '/hooks-expired', () => database.db, { getUserId, logger, ...hooks }));
    server = await listen(app);
    const pending = request(server, 'POST', '/hooks-expired/run', { headers: alice, body: { input: 'Take your time.' } });
    await eventually(() => calls.length === 1);
    const runId = calls[0]!.run.run_id;
    // As if its process had died and someone else had taken the chat: the sweep closes it.
    await sql`UPDATE agent_chats SET lease_run_id = NULL, lease_expires_at = NULL WHERE lease_run_id = ${runId}`.execute(database.db);
    // (The router's own sweep, set off by the request, may get there first: either way one closes it.)
    await expireStaleRuns(database.db, { runIds: [runId], graceMs: 0 });
    await eventually(() => calls.length === 2);
    expect(calls[1]).toMatchObject({ hook: 'finish', run: { run_id: runId, status: 'failed', error: { code: 'run_expired' } } });
    held.open();
    const answer = await pending;
    expect(answer.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toHaveLength(2);
  });
});
