import { Agent, Usage, handoff, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { runInfo } from '../../src/runs/run-context.js';
import { sleep, stream, transcript } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };
const bob = { 'x-user-id': 'bob' };

/** A task list whose delete needs a person's approval; it records what it really deleted. */
function taskTools() {
  const deleted: string[] = [];
  const archived: string[] = [];
  const contexts: unknown[] = [];
  const deleteTask = tool({
    name: 'delete_task',
    description: 'Deletes a task.',
    parameters: z.object({ task: z.string() }),
    needsApproval: true,
    execute: async ({ task }, runContext) => {
      deleted.push(task);
      contexts.push(runContext?.context);
      return `deleted ${task}`;
    },
  });
  const archiveTask = tool({
    name: 'archive_task',
    description: 'Archives a task.',
    parameters: z.object({ task: z.string() }),
    needsApproval: true,
    execute: async ({ task }) => {
      archived.push(task);
      return `archived ${task}`;
    },
  });
  return { deleteTask, archiveTask, deleted, archived, contexts };
}

/** The model: asks to delete "milk", then says what the tool answered. */
function janitorModel() {
  return new ScriptedModel([
    [functionCall('delete_task', { task: 'milk' }, { callId: 'call_milk' })],
    modelResponder(({ request: modelRequest }) => [assistantMessage(`After: ${transcript(modelRequest.input as never).at(-1)}`)]),
  ]);
}

describeEachEngine('tool approvals over HTTP', (engine) => {
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

  async function serve(agents: [Agent<any, any>, string][], options: object = {}) {
    const app = express();
    for (const [agent, prefix] of agents) {
      app.use(createAgentRouter(agent, prefix, () => database.db, { getUserId, logger: quiet, ...options }));
    }
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    server = await listen(app);
    return server;
  }

  it('waits for a person: 200 awaiting_approval, the chat shows what waits, and approving resumes the run once', async () => {
    const { deleteTask, deleted } = taskTools();
    const app = await serve([[new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] }), '/tasks']]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    expect(waiting.status).toBe(200);
    expect(waiting.body).toEqual({
      success: true,
      status: 'awaiting_approval',
      final_output: null,
      session_id: expect.any(String),
      run_id: expect.any(String),
      agent_name: 'Janitor',
      usage: expect.any(Object),
      approvals: [{ call_id: 'call_milk', tool_name: 'delete_task', arguments: '{"task":"milk"}', agent_name: 'Janitor' }],
    });
    const { session_id: chatId, run_id: runId } = waiting.body;
    expect(deleted).toEqual([]);
    // One call tells a client that reloads what to ask.
    const chat = await request(app, 'GET', `/chats/${chatId}`, { headers: alice });
    expect(chat.body.pending_approval).toEqual({ run_id: runId, prefix: '/tasks', approvals: waiting.body.approvals });
    expect(chat.body.active_run_id).toBeNull();
    const record = await request(app, 'GET', `/chats/${chatId}/runs/${runId}`, { headers: alice });
    expect(record.body).toMatchObject({ status: 'awaiting_approval', prefix: '/tasks', approvals: waiting.body.approvals, finished_at: null });
    // The chat is not locked while the person decides, but no other run starts on it.
    const meanwhile = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Anything else?', session_id: chatId } });
    expect(meanwhile.status).toBe(409);
    expect(meanwhile.body.error).toMatchObject({ code: 'approval_pending', details: { run_id: runId } });
    const streamed = await stream(app, '/tasks/stream', { input: 'Anything else?', session_id: chatId }, alice);
    expect(streamed.status).toBe(409);

    const approved = await request(app, 'POST', `/tasks/runs/${runId}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      success: true,
      status: 'completed',
      run_id: runId,
      session_id: chatId,
      final_output: 'After: function_call_result',
    });
    expect(deleted).toEqual(['milk']);
    const items = await request(app, 'GET', `/chats/${chatId}/items`, { headers: alice });
    expect(items.body.items.map((item: { type?: string; role?: string }) => item.role ?? item.type)).toEqual([
      'user',
      'function_call',
      'function_call_result',
      'assistant',
    ]);
    expect((await request(app, 'GET', `/chats/${chatId}`, { headers: alice })).body.pending_approval).toBeNull();
    // A retried decision runs nothing: 409 with the run's status.
    const retried = await request(app, 'POST', `/tasks/runs/${runId}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    expect(retried.status).toBe(409);
    expect(retried.body.error).toMatchObject({ code: 'run_not_awaiting_approval', details: { status: 'completed' } });
    expect(deleted).toEqual(['milk']);
    // One run, its events going on with increasing ids through the wait and the resume.
    const { rows } = await sql<{ id: number; event: string }>`
      SELECT id, event FROM agent_run_events WHERE run_id = ${runId} ORDER BY id
    `.execute(database.db);
    expect(rows.map((row) => row.event)).toEqual([
      'run.started',
      'tool.called',
      'run.awaiting_approval',
      'run.resumed',
      'tool.output',
      'text.delta',
      'run.completed',
    ]);
    expect(rows.map((row) => Number(row.id))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('counts the usage of both stretches of a run that waited: its record, the answer and the chat', async () => {
    const { deleteTask } = taskTools();
    const usage = (tokens: number) => ({ requests: 1, inputTokens: tokens, outputTokens: tokens, totalTokens: 2 * tokens });
    const model = new ScriptedModel([
      modelResponder(() => ({ output: [functionCall('delete_task', { task: 'milk' }, { callId: 'call_milk' })], usage: new Usage(usage(10)), responseId: 'r1' })),
      modelResponder(() => ({ output: [assistantMessage('Done.')], usage: new Usage(usage(5)), responseId: 'r2' })),
    ]);
    const app = await serve([[new Agent({ name: 'Janitor', model, tools: [deleteTask] }), '/tasks']]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    expect(waiting.body.usage).toEqual({ requests: 1, input_tokens: 10, output_tokens: 10, total_tokens: 20 });
    const done = await request(app, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    const total = { requests: 2, input_tokens: 15, output_tokens: 15, total_tokens: 30 };
    expect(done.body.usage).toEqual(total);
    const record = await request(app, 'GET', `/chats/${waiting.body.session_id}/runs/${waiting.body.run_id}`, { headers: alice });
    expect(record.body.usage).toEqual(total);
    const chat = await request(app, 'GET', `/chats/${waiting.body.session_id}`, { headers: alice });
    expect(chat.body.usage).toEqual({ input_tokens: 15, output_tokens: 15, total_tokens: 30 });
  });

  it('rejects with the message the model gets, and the tool never runs', async () => {
    const { deleteTask, deleted } = taskTools();
    const app = await serve([[new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] }), '/tasks']]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    const rejected = await request(app, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: false, message: 'Keep the milk: we need it.' }] },
    });
    expect(rejected.status).toBe(200);
    expect(deleted).toEqual([]);
    const items = await request(app, 'GET', `/chats/${waiting.body.session_id}/items`, { headers: alice });
    expect(items.body.items[2]).toMatchObject({
      type: 'function_call_result',
      callId: 'call_milk',
      output: { type: 'text', text: 'Keep the milk: we need it.' },
    });
  });

  it('streams the resumed run with "stream": true, its ids going on from the wait', async () => {
    const { deleteTask } = taskTools();
    const app = await serve([[new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] }), '/tasks']]);
    const first = await stream(app, '/tasks/stream', { input: 'Delete the milk task.' }, alice);
    expect(first.events.map((event) => event.event)).toEqual(['run.started', 'tool.called', 'run.awaiting_approval']);
    const waiting = first.events.at(-1)!;
    expect(waiting.data).toMatchObject({ status: 'awaiting_approval', approvals: [{ call_id: 'call_milk', tool_name: 'delete_task' }] });
    const resumed = await stream(
      app,
      `/tasks/runs/${waiting.data.run_id}/approvals`,
      { decisions: [{ call_id: 'call_milk', approved: true }], stream: true },
      alice,
    );
    expect(resumed.status).toBe(200);
    expect(resumed.events.map((event) => [event.id, event.event])).toEqual([
      [4, 'run.resumed'],
      [5, 'tool.output'],
      [6, 'text.delta'],
      [7, 'run.completed'],
    ]);
  });

  it('resumes with some decisions only, and waits again for the rest', async () => {
    const { deleteTask, archiveTask, deleted, archived } = taskTools();
    const model = new ScriptedModel([
      [
        functionCall('delete_task', { task: 'milk' }, { callId: 'call_delete' }),
        functionCall('archive_task', { task: 'eggs' }, { callId: 'call_archive' }),
      ],
      [assistantMessage('Both handled.')],
    ]);
    const app = await serve([[new Agent({ name: 'Janitor', model, tools: [deleteTask, archiveTask] }), '/tasks']]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Tidy up.' } });
    expect(waiting.body.approvals.map((approval: { call_id: string }) => approval.call_id)).toEqual(['call_delete', 'call_archive']);
    const partly = await request(app, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_delete', approved: true }] },
    });
    expect(partly.body).toMatchObject({ status: 'awaiting_approval', approvals: [{ call_id: 'call_archive' }] });
    expect(deleted).toEqual(['milk']);
    expect(archived).toEqual([]);
    const rest = await request(app, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_archive', approved: true }] },
    });
    expect(rest.body).toMatchObject({ status: 'completed', final_output: 'Both handled.' });
    expect(archived).toEqual(['eggs']);
    expect(deleted).toEqual(['milk']);
  });

  it('asks for the tool of the agent it handed off to, and resumes on that agent', async () => {
    const { deleteTask, deleted } = taskTools();
    const janitor = new Agent({ name: 'Janitor', handoffDescription: 'Deletes tasks.', model: janitorModel(), tools: [deleteTask] });
    const triage = new Agent({
      name: 'Triage',
      handoffs: [handoff(janitor)],
      model: new ScriptedModel([[functionCall('transfer_to_Janitor', {}, { callId: 'call_handoff' })]]),
    });
    const app = await serve([[triage, '/triage']]);
    const waiting = await request(app, 'POST', '/triage/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    expect(waiting.body).toMatchObject({
      status: 'awaiting_approval',
      agent_name: 'Janitor',
      approvals: [{ call_id: 'call_milk', tool_name: 'delete_task', agent_name: 'Janitor' }],
    });
    const approved = await request(app, 'POST', `/triage/runs/${waiting.body.run_id}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    expect(approved.body).toMatchObject({ status: 'completed', agent_name: 'Janitor' });
    expect(deleted).toEqual(['milk']);
  });

  it('refuses a decision on a call that is not pending (400), on another prefix or by another user (404), and changes nothing', async () => {
    const { deleteTask, deleted } = taskTools();
    const agent = new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] });
    const other = new Agent({ name: 'Other', model: new ScriptedModel([]) });
    const app = await serve([
      [agent, '/tasks'],
      [other, '/other'],
    ]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    const runId = waiting.body.run_id;
    const decide = (path: string, headers: Record<string, string>, decisions: unknown) =>
      request(app, 'POST', path, { headers, body: { decisions } });
    const unknown = await decide(`/tasks/runs/${runId}/approvals`, alice, [{ call_id: 'call_forged', approved: true }]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('invalid_request');
    const twice = await decide(`/tasks/runs/${runId}/approvals`, alice, [
      { call_id: 'call_milk', approved: true },
      { call_id: 'call_milk', approved: false },
    ]);
    expect(twice.status).toBe(400);
    const elsewhere = await decide(`/other/runs/${runId}/approvals`, alice, [{ call_id: 'call_milk', approved: true }]);
    const foreign = await decide(`/tasks/runs/${runId}/approvals`, bob, [{ call_id: 'call_milk', approved: true }]);
    const missing = await decide(`/tasks/runs/00000000-0000-4000-8000-000000000000/approvals`, bob, [{ call_id: 'call_milk', approved: true }]);
    for (const answer of [elsewhere, foreign]) {
      expect(answer.status).toBe(404);
      expect(answer.text).toBe(missing.text);
    }
    // Bob cannot read, follow or cancel it either: as a missing chat.
    for (const [method, path] of [
      ['GET', `/chats/${waiting.body.session_id}`],
      ['GET', `/chats/${waiting.body.session_id}/runs/${runId}`],
      ['POST', `/chats/${waiting.body.session_id}/runs/${runId}/cancel`],
    ] as const) {
      expect((await request(app, method, path, { headers: bob })).body.error.code).toBe('chat_not_found');
    }
    expect(deleted).toEqual([]);
    const record = await request(app, 'GET', `/chats/${waiting.body.session_id}/runs/${runId}`, { headers: alice });
    expect(record.body.status).toBe('awaiting_approval');
    // Still decidable by its owner.
    const approved = await decide(`/tasks/runs/${runId}/approvals`, alice, [{ call_id: 'call_milk', approved: true }]);
    expect(approved.body.status).toBe('completed');
  });

  it('gives the resumed run the deciding request’s context', async () => {
    const { deleteTask, contexts } = taskTools();
    const app = await serve([[new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] }), '/tasks']], {
      context: (req: express.Request, ids: object) => ({ decidedBy: req.header('x-device') ?? 'unknown', ...ids }),
    });
    const waiting = await request(app, 'POST', '/tasks/run', { headers: { ...alice, 'x-device': 'laptop' }, body: { input: 'Delete the milk task.' } });
    await request(app, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
      headers: { ...alice, 'x-device': 'phone' },
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    expect(contexts).toEqual([
      { decidedBy: 'phone', userId: 'alice', sessionId: waiting.body.session_id, runId: waiting.body.run_id },
    ]);
  });

  it('cancels a waiting run: the chat is free again and every waiting call has an output', async () => {
    const { deleteTask, deleted } = taskTools();
    const model = new ScriptedModel([
      [functionCall('delete_task', { task: 'milk' }, { callId: 'call_milk' })],
      [assistantMessage('Fresh start.')],
    ]);
    const app = await serve([[new Agent({ name: 'Janitor', model, tools: [deleteTask] }), '/tasks']]);
    const waiting = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    const { session_id: chatId, run_id: runId } = waiting.body;
    const cancelled = await request(app, 'POST', `/chats/${chatId}/runs/${runId}/cancel`, { headers: alice });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ run_id: runId, status: 'cancelled' });
    const items = await request(app, 'GET', `/chats/${chatId}/items`, { headers: alice });
    expect(items.body.items.map((item: { type?: string; role?: string }) => item.role ?? item.type)).toEqual([
      'user',
      'function_call',
      'function_call_result',
    ]);
    expect(items.body.items[2]).toMatchObject({ callId: 'call_milk', output: { text: expect.stringMatching(/cancelled/) } });
    const chat = await request(app, 'GET', `/chats/${chatId}`, { headers: alice });
    expect(chat.body).toMatchObject({ pending_approval: null, item_count: 3 });
    const next = await request(app, 'POST', '/tasks/run', { headers: alice, body: { input: 'Never mind.', session_id: chatId } });
    expect(next.body).toMatchObject({ status: 'completed', final_output: 'Fresh start.' });
    const decided = await request(app, 'POST', `/tasks/runs/${runId}/approvals`, {
      headers: alice,
      body: { decisions: [{ call_id: 'call_milk', approved: true }] },
    });
    expect(decided.body.error).toMatchObject({ code: 'run_not_awaiting_approval', details: { status: 'cancelled' } });
    expect(deleted).toEqual([]);
  });

  it('closes runs left waiting past approvalTimeoutMs as approval_expired, freeing their chats', async () => {
    const { deleteTask, deleted } = taskTools();
    const agent = new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] });
    const first = await serve([[agent, '/tasks']]);
    const waiting = await request(first, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
    await first.close();
    await sql`UPDATE agent_runs SET waiting_since = now() - interval '1 hour' WHERE id = ${waiting.body.run_id}`.execute(database.db);
    // A router with the timeout sweeps on its first request.
    const app = await serve([[new Agent({ name: 'Other', model: new ScriptedModel([[assistantMessage('hi')]]) }), '/other']], {
      approvalTimeoutMs: 60_000,
    });
    await request(app, 'POST', '/other/run', { headers: alice, body: { input: 'hello' } });
    const chatId = waiting.body.session_id;
    let record;
    for (let i = 0; i < 100; i++) {
      record = await request(app, 'GET', `/chats/${chatId}/runs/${waiting.body.run_id}`, { headers: alice });
      if (record.body.status !== 'awaiting_approval') break;
      await sleep(20);
    }
    expect(record!.body).toMatchObject({ status: 'failed', error: { code: 'approval_expired' } });
    const chat = await request(app, 'GET', `/chats/${chatId}`, { headers: alice });
    expect(chat.body.pending_approval).toBeNull();
    const items = await request(app, 'GET', `/chats/${chatId}/items`, { headers: alice });
    expect(items.body.items.at(-1)).toMatchObject({ type: 'function_call_result', callId: 'call_milk' });
    expect(deleted).toEqual([]);
  });

  it('tells tools which user, chat and run they serve', async () => {
    const seen: unknown[] = [];
    const whoAmI = tool({
      name: 'who_am_i',
      description: 'w',
      parameters: z.object({}),
      execute: async (_args, runContext) => {
        seen.push(runInfo(runContext));
        return 'noted';
      },
    });
    const model = new ScriptedModel([[functionCall('who_am_i', {}, { callId: 'c1' })], [assistantMessage('ok')]]);
    const app = await serve([[new Agent({ name: 'Teller', tools: [whoAmI], model }), '/who']]);
    const answer = await request(app, 'POST', '/who/run', { headers: alice, body: { input: 'who?' } });
    expect(seen).toEqual([{ userId: 'alice', chatId: answer.body.session_id, runId: answer.body.run_id, agentName: 'Teller' }]);
  });
});

describePostgres('tool approvals: exactly once under concurrency', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { poolSize: 30 });
  });
  afterAll(() => database.destroy());

  it('lets one of 20 concurrent decisions resume the run; the others get 409, and the tool runs once', async () => {
    const { deleteTask, deleted } = taskTools();
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Janitor', model: janitorModel(), tools: [deleteTask] }), '/tasks', () => database.db, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const waiting = await request(server, 'POST', '/tasks/run', { headers: alice, body: { input: 'Delete the milk task.' } });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(server, 'POST', `/tasks/runs/${waiting.body.run_id}/approvals`, {
            headers: alice,
            body: { decisions: [{ call_id: 'call_milk', approved: true }] },
          }),
        ),
      );
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      const refused = answers.filter((answer) => answer.status === 409);
      expect(refused).toHaveLength(19);
      for (const answer of refused) expect(answer.body.error.code).toBe('run_not_awaiting_approval');
      expect(deleted).toEqual(['milk']);
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM agent_items WHERE session_id = ${waiting.body.session_id}`.execute(database.db);
      expect(Number(rows[0]!.n)).toBe(4);
    } finally {
      await server.close();
    }
  });
});
