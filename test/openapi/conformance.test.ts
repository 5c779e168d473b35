import { randomUUID } from 'node:crypto';
import { Agent, tool, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder } from '@openai/agents/testing';
import express from 'express';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { createHealthRouter } from '../../src/health/create-health-router.js';
import { createMemoryRouter } from '../../src/memories/create-memory-router.js';
import { PostgresMemoryStore } from '../../src/memories/postgres-memory-store.js';
import { createMetricsRouter } from '../../src/metrics/create-metrics-router.js';
import { ENDPOINTS } from '../../src/openapi/endpoints.js';
import { openApiDocument } from '../../src/openapi/open-api-document.js';
import { sessionState } from '../../src/state/session-state.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, type TestServer } from '../helpers/http.js';
import { WordsModel } from '../helpers/models.js';
import { OpenApiConformance, type CallRequest } from '../helpers/open-api-conformance.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };

/** The newest user message's text, or the last tool output, of a model request. */
function lastInput(input: string | AgentInputItem[]): { text?: string; output?: string } {
  if (typeof input === 'string') return { text: input };
  const last = input.at(-1) as Record<string, unknown> | undefined;
  if (last?.type === 'function_call_result') return { output: JSON.stringify(last.output) };
  const content = last?.content;
  if (typeof content === 'string') return { text: content };
  return { text: Array.isArray(content) ? content.map((part: { text?: string }) => part.text ?? '').join('') : '' };
}

/**
 * The model of the "tasks" agent, told what to do by the user: "delete <task>" calls a tool that
 * needs approval, "note <word>" one that changes the session state, "fail" throws, anything else
 * is echoed; after a tool, it says what it returned.
 */
function tasksModel() {
  let calls = 0;
  return new ScriptedModel(
    Array.from({ length: 200 }, () =>
      modelResponder(({ request }) => {
        const { text, output } = lastInput(request.input);
        if (output !== undefined) return [assistantMessage(`Done: ${output}`)];
        if (text === 'fail') throw new Error('the model broke');
        const task = /^delete (\w+)/.exec(text ?? '')?.[1];
        if (task) return [functionCall('delete_task', { task }, { callId: `call_${task}_${++calls}` })];
        const word = /^note (\w+)/.exec(text ?? '')?.[1];
        if (word) return [functionCall('note', { word }, { callId: `call_note_${++calls}` })];
        return [assistantMessage(`You said: ${text}`)];
      }),
    ),
  );
}

const deleteTask = tool({
  name: 'delete_task',
  description: 'Deletes a task.',
  parameters: z.object({ task: z.string() }),
  needsApproval: true,
  execute: async ({ task }) => `deleted ${task}`,
});

/** Notes a word in the chat's state and the user's: the run ends with `state.updated`. */
const note = tool({
  name: 'note',
  description: 'Notes a word.',
  parameters: z.object({ word: z.string() }),
  execute: async ({ word }, runContext) => {
    sessionState(runContext).set('note', word);
    sessionState(runContext).set('user:last_note', word);
    return `noted ${word}`;
  },
});

// Every endpoint of every router, driven over HTTP, each answer (success and error, JSON and
// event streams) checked against the schema the OpenAPI document gives its path, method and
// status. Adding an endpoint to the registry fails the last test until it is driven here.
describeEachEngine('the HTTP API conforms to its OpenAPI document', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  const document = openApiDocument({
    agentPrefixes: ['/tasks', '/words'],
    chatRouter: true,
    memoryRouter: true,
    metricsRouter: { path: '/ops/metrics' },
    healthRouter: true,
  });
  /** What the health router is told of the routers' draining: flipped by the test. */
  const drainable = { draining: false };
  const api = new OpenApiConformance(document);
  const call = (operationId: string, request: CallRequest = {}, user: Record<string, string> | null = alice) =>
    api.call(server, operationId, { ...request, headers: { ...(user ?? {}), ...request.headers } });
  const open = (operationId: string, request: CallRequest = {}) =>
    api.open(server, operationId, { ...request, headers: { ...alice, ...request.headers } });

  beforeAll(async () => {
    database = await createTestDatabase(engine);
    const app = express();
    const options = { getUserId, logger: quiet, bodyLimit: '64kb' };
    app.use(createAgentRouter(new Agent({ name: 'Janitor', model: tasksModel(), tools: [deleteTask, note] }), '/tasks', () => database.db, options));
    // A long answer, one word every 20 ms: a run that is still going when the test acts on it.
    app.use(createAgentRouter(new Agent({ name: 'Talker', model: new WordsModel({ words: 1000, delayMs: 20 }) }), '/words', () => database.db, options));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet, bodyLimit: '64kb' }));
    app.use(createMemoryRouter(() => database.db, { getUserId, logger: quiet }));
    app.use(createMetricsRouter(() => database.db, { authorize: (req) => req.header('x-user-id') === 'admin', path: '/ops/metrics', logger: quiet }));
    app.use(createHealthRouter({ getDb: () => database.db, routers: [drainable], logger: quiet }));
    server = await listen(app);
  });
  afterAll(async () => {
    await server?.close();
    await database?.destroy();
  });

  /** Starts a long run in the background and returns its ids; the run holds its chat until cancelled. */
  async function longRun() {
    const started = await call('runAgent_words', { body: { input: 'Talk.', background: true } });
    expect(started.status).toBe(202);
    return { chatId: started.body.session_id as string, runId: started.body.run_id as string };
  }

  it('the agent endpoints: runs, streams, background runs, info and their errors', async () => {
    const completed = await call('runAgent_tasks', { body: { input: 'Hello.' } });
    expect(completed.body).toMatchObject({ status: 'completed', final_output: 'You said: Hello.' });
    const chatId = completed.body.session_id;
    expect((await call('runAgent_tasks', { body: { input: [{ role: 'user', content: 'Again.' }], session_id: chatId } })).status).toBe(200);

    const streamed = await call('streamAgent_tasks', { body: { input: 'Stream it.', session_id: chatId } });
    expect(streamed.events[0]!.event).toBe('run.started');
    expect(streamed.events.at(-1)!.event).toBe('run.completed');
    const failedStream = await call('streamAgent_tasks', { body: { input: 'fail' } });
    expect(failedStream.events.at(-1)).toMatchObject({ event: 'run.failed', data: { error: { code: 'internal_error' } } });

    expect((await call('runAgent_tasks', { body: {} })).status).toBe(400);
    expect((await call('runAgent_tasks', { body: 'not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await call('runAgent_tasks', { body: { input: 'x'.repeat(100_000) } })).status).toBe(413);
    expect((await call('runAgent_tasks', { body: { input: 'Hi.' } }, null)).status).toBe(401);
    expect((await call('runAgent_tasks', { body: { input: 'Hi.', session_id: 'nobody-has-this-chat' } })).status).toBe(404);
    expect((await call('runAgent_tasks', { body: { input: 'fail' } })).body.error.code).toBe('internal_error');
    expect((await call('streamAgent_tasks', { body: { input: 'Hi.', background: true } })).status).toBe(400);
    expect((await call('streamAgent_tasks', { body: { input: 'Hi.', session_id: 'nobody-has-this-chat' } })).status).toBe(404);

    // Another run holds the chat: 409 session_busy, then the run is cancelled.
    const busy = await longRun();
    const refused = await call('runAgent_tasks', { body: { input: 'Me too.', session_id: busy.chatId } });
    expect(refused.body.error).toMatchObject({ code: 'session_busy', details: { run_id: busy.runId } });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await call('streamAgent_tasks', { body: { input: 'Me too.', session_id: busy.chatId } })).status).toBe(409);
    expect((await call('cancelRun', { params: { id: busy.chatId, run_id: busy.runId } })).body.status).toBe('cancelled');

    const info = await call('agentInfo_tasks');
    expect(info.body).toMatchObject({ name: 'Janitor', tools_count: 2 });
    // It lists every endpoint of its router: the document's paths under its prefix.
    expect(Object.values(info.body.endpoints).sort()).toEqual(Object.keys(document.paths).filter((path) => path.startsWith('/tasks/')).sort());
    expect((await call('agentInfo_words', {}, null)).status).toBe(401);
  });

  it('tool approvals: waiting, deciding (as /run and as /stream), and their errors', async () => {
    const waiting = await call('runAgent_tasks', { body: { input: 'delete milk' } });
    expect(waiting.body).toMatchObject({ status: 'awaiting_approval', approvals: [{ tool_name: 'delete_task' }] });
    const { session_id: chatId, run_id: runId } = waiting.body;
    const callId = waiting.body.approvals[0].call_id;
    expect((await call('runAgent_tasks', { body: { input: 'And?', session_id: chatId } })).body.error.code).toBe('approval_pending');
    expect((await call('streamAgent_tasks', { body: { input: 'And?', session_id: chatId } })).status).toBe(409);
    expect((await call('readChat', { params: { id: chatId } })).body.pending_approval).toMatchObject({ run_id: runId });
    expect((await call('readRun', { params: { id: chatId, run_id: runId } })).body.approvals).toHaveLength(1);

    const decide = (id: string, decisions: unknown, stream?: boolean) =>
      call('decideApprovals_tasks', { params: { run_id: id }, body: { decisions, ...(stream ? { stream } : {}) } });
    expect((await decide(runId, [{ call_id: 'call_nobody', approved: true }])).status).toBe(400);
    expect((await decide(randomUUID(), [{ call_id: callId, approved: true }])).body.error.code).toBe('run_not_found');
    expect((await call('decideApprovals_tasks', { params: { run_id: 'not-a-uuid' }, body: {} })).status).toBe(400);
    const approved = await decide(runId, [{ call_id: callId, approved: true }]);
    expect(approved.body).toMatchObject({ status: 'completed', final_output: expect.stringContaining('deleted milk') });
    expect((await decide(runId, [{ call_id: callId, approved: true }])).body.error.code).toBe('run_not_awaiting_approval');

    const streamedWait = await call('streamAgent_tasks', { body: { input: 'delete eggs' } });
    const last = streamedWait.events.at(-1)!;
    expect(last.event).toBe('run.awaiting_approval');
    const resumed = await decide(last.data.run_id, [{ call_id: last.data.approvals[0].call_id, approved: false, message: 'Keep them.' }], true);
    expect(resumed.events[0]!.event).toBe('run.resumed');
    expect(resumed.events.at(-1)!.event).toBe('run.completed');
  });

  it("the AI SDK endpoints: useChat's message, approvals, resume and history", async () => {
    const chatId = `ui-${randomUUID()}`;
    const user = (id: string, text: string) => ({ id, role: 'user', parts: [{ type: 'text', text }] });
    const answered = await call('aiSdkChat_tasks', { body: { id: chatId, messages: [user('u1', 'Hello.')], trigger: 'submit-message' } });
    expect(answered.events.map((event) => event.data.type ?? event.data)).toEqual(
      ['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'finish-step', 'finish', '[DONE]'],
    );
    const asking = await call('aiSdkChat_tasks', { body: { id: chatId, messages: [user('u2', 'delete bread')], trigger: 'submit-message' } });
    const request = asking.events.find((event) => event.data.type === 'tool-approval-request')!.data;
    // While the run waits, a new message is refused.
    expect((await call('aiSdkChat_tasks', { body: { id: chatId, messages: [user('u3', 'Hm?')], trigger: 'submit-message' } })).status).toBe(409);
    const history = await call('aiSdkMessages_tasks', { params: { chat_id: chatId } });
    const assistant = history.body.messages.at(-1);
    expect(assistant.parts.at(-1)).toMatchObject({ type: 'tool-delete_task', state: 'approval-requested' });
    const answer = {
      ...assistant,
      parts: assistant.parts.map((part: { type: string }) =>
        part.type === 'tool-delete_task' ? { ...part, state: 'approval-responded', approval: { id: request.approvalId, approved: true } } : part,
      ),
    };
    const decided = await call('aiSdkChat_tasks', { body: { id: chatId, messages: [...history.body.messages.slice(0, -1), answer], trigger: 'submit-message' } });
    expect(decided.events.map((event) => event.data.type)).toContain('tool-output-available');
    const regenerated = await call('aiSdkChat_tasks', { body: { id: chatId, messages: [user('u4', 'Again')], trigger: 'regenerate-message' } });
    expect(regenerated.events.at(-2)!.data.type).toBe('finish');
    expect((await call('aiSdkMessages_tasks', { params: { chat_id: chatId }, query: { limit: 2 } })).status).toBe(200);

    expect((await call('aiSdkChat_tasks', { body: { id: chatId, messages: [], trigger: 'submit-message' } })).status).toBe(400);
    expect((await call('aiSdkChat_tasks', { body: { id: chatId, messages: [user('u5', 'Hi')], trigger: 'submit-message' } }, null)).status).toBe(401);
    expect((await call('aiSdkMessages_tasks', { params: { chat_id: 'nobody-has-this-chat' } })).status).toBe(404);
    expect((await call('aiSdkMessages_tasks', { params: { chat_id: chatId }, query: { limit: 0 } })).status).toBe(400);

    // Resume: nothing to resume, then a run that is going on (cancelled once the stream is open).
    expect((await call('aiSdkResume_tasks', { params: { chat_id: chatId } })).status).toBe(204);
    expect((await call('aiSdkResume_tasks', { params: { chat_id: 'x'.repeat(300) } })).status).toBe(400);
    const run = await longRun();
    const resuming = await open('aiSdkResume_words', { params: { chat_id: run.chatId } });
    await call('cancelRun', { params: { id: run.chatId, run_id: run.runId } });
    const resumed = await api.finish(resuming);
    expect(resumed.events.map((event) => event.data.type ?? event.data).slice(-2)).toEqual(['abort', '[DONE]']);
  });

  it('the chat endpoints and their errors', async () => {
    const created = await call('createChat', { body: { title: 'Dragons', metadata: { campaign: 'Giants' } } });
    expect(created.status).toBe(201);
    const chatId = created.body.chat_id;
    expect((await call('createChat')).status).toBe(201);
    expect((await call('createChat', { body: { colour: 'red' } })).status).toBe(400);
    expect((await call('createChat', { body: { metadata: { blob: 'x'.repeat(100_000) } } })).status).toBe(413);
    expect((await call('createChat', {}, null)).status).toBe(401);
    await call('runAgent_tasks', { body: { input: 'Hello.', session_id: chatId } });

    expect((await call('listChats', { query: { limit: 1 } })).body.next_cursor).toEqual(expect.any(String));
    expect((await call('listChats', { query: { limit: 1000 } })).status).toBe(400);
    const read = await call('readChat', { params: { id: chatId }, query: { limit: 1 } });
    expect(read.body.conversation).toHaveLength(1);
    expect((await call('readChat', { params: { id: chatId }, query: { before: read.body.older_cursor } })).body.conversation).toHaveLength(1);
    expect((await call('readChat', { params: { id: chatId }, query: { before: 'not-a-cursor' } })).status).toBe(400);
    expect((await call('readChat', { params: { id: 'nobody-has-this-chat' } })).status).toBe(404);

    expect((await call('updateChat', { params: { id: chatId }, body: { title: 'Giants', metadata: {} } })).body.title).toBe('Giants');
    expect((await call('updateChat', { params: { id: chatId }, body: { title: 5 } })).status).toBe(400);
    expect((await call('updateChat', { params: { id: 'nobody-has-this-chat' }, body: { title: 'x' } })).status).toBe(404);

    expect((await call('listItems', { params: { id: chatId } })).body.items).toHaveLength(2);
    expect((await call('listItems', { params: { id: chatId }, query: { cursor: 'not-a-cursor' } })).status).toBe(400);
    expect((await call('listItems', { params: { id: 'nobody-has-this-chat' } })).status).toBe(404);
    const runs = await call('listRuns', { params: { id: chatId } });
    const runId = runs.body.runs[0].run_id;
    expect((await call('listRuns', { params: { id: 'nobody-has-this-chat' } })).status).toBe(404);

    expect((await call('readRun', { params: { id: chatId, run_id: runId } })).body.status).toBe('completed');
    expect((await call('readRun', { params: { id: chatId, run_id: randomUUID() } })).body.error.code).toBe('run_not_found');
    expect((await call('readRun', { params: { id: chatId, run_id: 'not-a-uuid' } })).status).toBe(400);
    expect((await call('readRun', { params: { id: 'nobody-has-this-chat', run_id: runId } })).body.error.code).toBe('chat_not_found');

    const replay = await call('followRun', { params: { id: chatId, run_id: runId }, headers: { 'Last-Event-ID': '1' } });
    expect(replay.events.map((event) => event.event)).toEqual(['run.completed']);
    expect((await call('followRun', { params: { id: chatId, run_id: runId }, headers: { 'Last-Event-ID': 'soon' } })).status).toBe(400);
    expect((await call('followRun', { params: { id: chatId, run_id: randomUUID() } })).status).toBe(404);
    expect((await call('cancelRun', { params: { id: chatId, run_id: runId } })).body.error).toMatchObject({ code: 'run_finished', details: { status: 'completed' } });
    expect((await call('cancelRun', { params: { id: 'nobody-has-this-chat', run_id: runId } })).status).toBe(404);

    expect((await call('followChat', { params: { id: chatId } })).status).toBe(204);
    expect((await call('followChat', { params: { id: 'x'.repeat(300) } })).status).toBe(400);
    expect((await call('followChat', { params: { id: 'nobody-has-this-chat' } })).status).toBe(404);
    // Following a run that is going on, by its chat and by its id, until it is cancelled.
    const run = await longRun();
    const byChat = await open('followChat', { params: { id: run.chatId } });
    const byRun = await open('followRun', { params: { id: run.chatId, run_id: run.runId }, query: { after: 0 } });
    expect((await call('cancelRun', { params: { id: run.chatId, run_id: run.runId } })).body).toEqual({ run_id: run.runId, status: 'cancelled' });
    for (const following of [byChat, byRun]) expect((await api.finish(following)).events.at(-1)!.event).toBe('run.cancelled');
    // A cancelled run, read back and cancelled again.
    expect((await call('readRun', { params: { id: run.chatId, run_id: run.runId } })).body).toMatchObject({ status: 'cancelled', error: { code: 'run_cancelled' } });
    expect((await call('cancelRun', { params: { id: run.chatId, run_id: run.runId } })).status).toBe(200);

    expect((await call('deleteChat', { params: { id: chatId } })).status).toBe(204);
    expect((await call('deleteChat', { params: { id: chatId } })).status).toBe(404);
  });

  it("the state endpoints: read, merge-patched under If-Match, and their errors; the events of runs that change it", async () => {
    const carol = { 'x-user-id': 'carol' };
    const noted = await call('streamAgent_tasks', { body: { input: 'note dragons' } }, carol);
    expect(noted.events.map((event) => event.event).slice(-2)).toEqual(['state.updated', 'run.completed']);
    expect(noted.events.at(-2)!.data).toEqual({ state: { note: 'dragons' }, user_state: { last_note: 'dragons' } });
    const chatId = noted.events[0]!.data.session_id as string;
    const uiChat = await call('aiSdkChat_tasks', { body: { id: `ui-${randomUUID()}`, messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'note elves' }] }], trigger: 'submit-message' } }, carol);
    expect(uiChat.events.find((event) => event.data.type === 'data-state')!.data).toEqual({
      type: 'data-state',
      data: { state: { note: 'elves' }, user_state: { last_note: 'elves' } },
      transient: true,
    });

    const read = await call('readChatState', { params: { id: chatId } }, carol);
    expect(read.body).toEqual({ state: { note: 'dragons' }, user_state: { last_note: 'elves' } });
    const tag = read.headers.get('etag')!;
    const patch = (body: unknown, headers: Record<string, string> = {}) => call('updateChatState', { params: { id: chatId }, headers, body }, carol);
    const patched = await patch(JSON.stringify({ state: { note: null, mood: 'brave' } }), { 'If-Match': tag, 'content-type': 'application/merge-patch+json' });
    expect(patched.body).toEqual({ state: { mood: 'brave' }, user_state: { last_note: 'elves' } });
    expect(patched.headers.get('etag')).not.toBe(tag);
    expect((await patch({ state: { mood: 'scared' } }, { 'If-Match': tag })).body.error.code).toBe('precondition_failed');
    expect((await patch({ state: { 'user:mood': 'scared' } })).status).toBe(400);
    expect((await patch({ user_state: { blob: 'x'.repeat(40_000) } })).status).toBe(200);
    expect((await patch({ user_state: { more: 'x'.repeat(40_000) } })).status).toBe(413);
    expect((await call('readChatState', { params: { id: chatId } }, carol)).body.state).toEqual({ mood: 'brave' });
    expect((await call('readChatState', { params: { id: chatId } })).status).toBe(404);
    expect((await call('readChatState', { params: { id: chatId } }, null)).status).toBe(401);

    // While a run holds the chat, its state is the run's to write.
    const run = await longRun();
    const busy = await call('updateChatState', { params: { id: run.chatId }, body: { state: { mood: 'impatient' } } });
    expect(busy.body.error).toMatchObject({ code: 'session_busy', details: { run_id: run.runId } });
    await call('cancelRun', { params: { id: run.chatId, run_id: run.runId } });
  });

  it('the memory, metrics and health routers', async () => {
    const dave = { 'x-user-id': 'dave' };
    const store = new PostgresMemoryStore({ db: database.db });
    await store.remember('dave', { content: 'Dave keeps bees.', importance: 0.9, agentName: 'Janitor', metadata: { topic: 'bees' } });
    await store.remember('dave', { content: 'Dave lives by the sea.' });
    await store.remember('dave', { content: 'Dave hates rain.' });
    const page = await call('listMemories', { query: { limit: 2 } }, dave);
    expect(page.body.memories).toHaveLength(2);
    expect((await call('listMemories', { query: { cursor: page.body.next_cursor } }, dave)).body.memories).toHaveLength(1);
    expect((await call('listMemories', { query: { limit: 0 } }, dave)).status).toBe(400);
    expect((await call('listMemories', {}, null)).status).toBe(401);
    const memoryId = page.body.memories[0].memory_id as string;
    expect((await call('deleteMemory', { params: { memory_id: memoryId } })).body.error.code).toBe('memory_not_found');
    expect((await call('deleteMemory', { params: { memory_id: memoryId } }, dave)).status).toBe(204);
    expect((await call('deleteAllMemories', {}, null)).status).toBe(401);
    expect((await call('deleteAllMemories', {}, dave)).body).toEqual({ deleted: 2 });

    // The runs of the tests above are the metrics' figures.
    const admin = { 'x-user-id': 'admin' };
    const metrics = await call('readMetrics', {}, admin);
    expect(metrics.body.agents.map((agent: { agent_name: string }) => agent.agent_name)).toEqual(['Janitor', 'Talker']);
    const janitor = await call('readMetrics', { query: { agent_name: 'Janitor', since: '2020-01-01T00:00:00Z' } }, admin);
    expect(janitor.body.agents[0].tools.by_tool).toHaveProperty('delete_task');
    expect((await call('readMetrics', { query: { since: 'yesterday' } }, admin)).status).toBe(400);
    expect((await call('readMetrics')).body.error.code).toBe('forbidden');
    const prometheus = await call('readPrometheusMetrics', {}, admin);
    expect(parsePrometheusTextFormat(prometheus.text).map((family) => family.name)).toContain('agent_router_runs');
    expect((await call('readPrometheusMetrics')).status).toBe(403);

    expect((await call('checkHealth', {}, null)).body).toEqual({ status: 'ok' });
    drainable.draining = true;
    try {
      expect(await call('checkHealth', {}, null)).toMatchObject({ status: 503, body: { status: 'unavailable' } });
    } finally {
      drainable.draining = false;
    }
  });

  it('refuses an unknown query parameter on every endpoint with 400 invalid_request, before anything else', async () => {
    const admin = { 'x-user-id': 'admin' };
    const chatId = (await call('createChat', { body: { title: 'Kept' } }, admin)).body.chat_id as string;
    const runId = (await call('runAgent_tasks', { body: { input: 'Hi.', session_id: chatId } }, admin)).body.run_id as string;
    const memory = await new PostgresMemoryStore({ db: database.db }).remember('admin', { content: 'Admin likes tea.' });
    const params = { id: chatId, chat_id: chatId, run_id: runId, memory_id: memory.id };
    // Health answers load balancers, which may add a query of their own (a cache buster): it reads none, and refuses none.
    const exempt = new Set(['checkHealth']);
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((operation) => (operation as { operationId: string }).operationId),
    );
    const answers: string[] = [];
    for (const operationId of operations.filter((id) => !exempt.has(id))) {
      const path = Object.entries(document.paths).find(([, item]) => Object.values(item).some((operation) => (operation as { operationId: string }).operationId === operationId))![0];
      const needed = Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name!, params[name as keyof typeof params]]));
      const answer = await call(operationId, { params: needed, query: { unknown_parameter: '1' } }, admin);
      const refused =
        answer.status === 400 &&
        answer.body.error.message.startsWith('Invalid query') &&
        answer.body.error.details.some((issue: { code: string }) => issue.code === 'unrecognized_keys');
      if (!refused) answers.push(`${operationId}: ${answer.status} ${answer.text.slice(0, 120)}`);
    }
    expect(answers).toEqual([]);
    // Nothing was deleted, cancelled or run.
    expect((await call('readChat', { params: { id: chatId } }, admin)).body).toMatchObject({ title: 'Kept', item_count: 2, active_run_id: null });
    expect((await call('listRuns', { params: { id: chatId } }, admin)).body.runs).toHaveLength(1);
    expect((await call('listMemories', {}, admin)).body.memories).toHaveLength(1);
  });

  it('drove every endpoint of the registry, to a success and to an error', () => {
    const missing = ENDPOINTS.flatMap((endpoint) => {
      const statuses = [...(api.seen.get(endpoint.id) ?? [])];
      return [
        ...(statuses.some((status) => status < 300) ? [] : [`${endpoint.id}: no success`]),
        ...(statuses.some((status) => status >= 400) ? [] : [`${endpoint.id}: no error`]),
      ];
    });
    expect(missing).toEqual([]);
  });
});

describe('the conformance check itself', () => {
  const api = new OpenApiConformance(openApiDocument({ chatRouter: true }));
  const json = new Headers({ 'content-type': 'application/json; charset=utf-8' });

  it('refuses an answer that leaves its schema, a status or a media type the document does not list', () => {
    const chats = { chats: [], next_cursor: null };
    expect(api.check('listChats', 200, json, JSON.stringify(chats)).body).toEqual(chats);
    expect(() => api.check('listChats', 200, json, JSON.stringify({ ...chats, extra: 1 }))).toThrow(/leaves its documented schema/);
    expect(() => api.check('listChats', 200, json, JSON.stringify({ chats: [{ chat_id: 'c' }], next_cursor: null }))).toThrow(/leaves/);
    expect(() => api.check('listChats', 409, json, '{}')).toThrow(/a status the document does not list/);
    expect(() => api.check('listChats', 200, new Headers({ 'content-type': 'text/html' }), '<p>')).toThrow(/where the document lists application\/json/);
    expect(() => api.check('deleteChat', 204, json, '{}')).toThrow(/where the document says it has none/);
    // An error envelope whose code the operation does not answer at that status.
    const envelope = (code: string) => JSON.stringify({ success: false, error: { code, message: 'm' } });
    expect(api.check('readChat', 404, json, envelope('chat_not_found')).status).toBe(404);
    expect(() => api.check('readChat', 404, json, envelope('run_not_found'))).toThrow(/leaves/);
  });

  it('matches a media type with the parameters the document names; a charset it does not name is fine', () => {
    const metrics = new OpenApiConformance(openApiDocument({ metricsRouter: true }));
    const text = (contentType: string) => metrics.check('readPrometheusMetrics', 200, new Headers({ 'content-type': contentType }), '# x\n');
    expect(text('text/plain; version=0.0.4; charset=utf-8').text).toBe('# x\n');
    expect(() => text('text/plain; charset=utf-8')).toThrow(/where the document lists text\/plain; version=0.0.4/);
    expect(api.check('listChats', 200, new Headers({ 'content-type': 'application/json' }), '{"chats":[],"next_cursor":null}').status).toBe(200);
  });

  it('checks every event of a stream', () => {
    const sse = new Headers({ 'content-type': 'text/event-stream; charset=utf-8' });
    const started = 'id: 1\nevent: run.started\ndata: {"session_id":"c","run_id":"r","agent_name":"A"}\n\n';
    expect(api.check('followChat', 200, sse, `: heartbeat\n\n${started}`).events).toHaveLength(1);
    expect(() => api.check('followChat', 200, sse, `${started}id: 2\nevent: text.delta\ndata: {"text":"x"}\n\n`)).toThrow(/leaves/);
  });
});
