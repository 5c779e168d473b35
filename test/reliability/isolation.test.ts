import { Agent, Runner } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { createMemoryRouter } from '../../src/memories/create-memory-router.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type Answer, type TestServer } from '../helpers/http.js';
import { HeldModel, eventsRecorded, keeperAgent, keeperRunner, noRunRunning, userData, type ModelCall } from './keeper-agent.js';
import { recordFigures } from './summary.js';

const runner = new Runner({
  tracingDisabled: true,
  modelProvider: { getModel: () => new ScriptedModel([[assistantMessage('an answer')]]) },
});
const quiet = { warn: () => {}, error: () => {} };
const MISSING_CHAT = '00000000-0000-4000-8000-00000000000a';
const MISSING_RUN = '00000000-0000-4000-8000-0000000000b0';
const MISSING_MEMORY = '00000000-0000-4000-8000-0000000000c0';

/** A's chat in one state of its run, as the matrix needs it. */
interface RunCase {
  state: string;
  chat: string;
  run: string;
  /** The call the run waits for (for a run that does not wait: the call a forged decision names). */
  call: string;
}

/**
 * Every endpoint added for runs, approvals, the AI SDK and state that takes a chat or a run id, as
 * [method, path, body, headers]: what B sends with A's ids, and (with the missing ids) the answer
 * B's must equal.
 */
function runEndpointsFor({ chat, run, call }: Omit<RunCase, 'state'>, etag: string): [string, string, unknown, Record<string, string>][] {
  const answered = { id: 'a1', role: 'assistant', parts: [{ type: 'tool-delete_task', toolCallId: call, state: 'approval-responded', input: {}, approval: { id: call, approved: true } }] };
  return [
    ['GET', `/chats/${chat}/runs/${run}`, undefined, {}],
    ['GET', `/chats/${chat}/runs/${run}/stream`, undefined, {}],
    ['GET', `/chats/${chat}/runs/${run}/stream`, undefined, { 'last-event-id': '1' }],
    ['GET', `/chats/${chat}/runs/${run}/stream?after=1`, undefined, {}],
    ['POST', `/chats/${chat}/runs/${run}/cancel`, undefined, {}],
    ['GET', `/chats/${chat}/stream`, undefined, {}],
    ['GET', `/chats/${chat}/stream`, undefined, { 'last-event-id': '1' }],
    ['GET', `/chats/${chat}/state`, undefined, {}],
    ['PATCH', `/chats/${chat}/state`, { state: { owner: 'someone else' } }, {}],
    ['PATCH', `/chats/${chat}/state`, { user_state: { owner: 'someone else' } }, { 'if-match': etag }],
    ['PATCH', `/chats/${chat}/state`, { state: { owner: 'someone else' } }, { 'if-match': '*' }],
    ['POST', `/keeper/runs/${run}/approvals`, { decisions: [{ call_id: call, approved: true }] }, {}],
    ['POST', `/keeper/runs/${run}/approvals`, { decisions: [{ call_id: call, approved: false, message: 'no' }], stream: true }, {}],
    ['POST', `/held/runs/${run}/approvals`, { decisions: [{ call_id: call, approved: true }] }, {}],
    ['POST', '/keeper/run', { input: 'mine now', session_id: chat, background: true }, {}],
    ['POST', '/keeper/chat', { id: chat, messages: [answered], trigger: 'submit-message' }, {}],
    ['GET', `/keeper/chat/${chat}/stream`, undefined, {}],
    ['GET', `/keeper/chat/${chat}/messages`, undefined, {}],
    ['GET', `/keeper/chat/${chat}/messages?limit=1`, undefined, {}],
  ];
}

/** A run id under B's own chat: answered as a run B's chat does not have. */
function crossEndpointsFor(bobChat: string, run: string): [string, string][] {
  return [
    ['GET', `/chats/${bobChat}/runs/${run}`],
    ['GET', `/chats/${bobChat}/runs/${run}/stream`],
    ['POST', `/chats/${bobChat}/runs/${run}/cancel`],
  ];
}

/** Every endpoint of both routers that takes a chat id, as [method, path, body]. */
function endpointsFor(chatId: string): [string, string, unknown][] {
  return [
    ['GET', `/chats/${chatId}`, undefined],
    ['GET', `/chats/${chatId}/items`, undefined],
    ['GET', `/chats/${chatId}/items?limit=1`, undefined],
    ['GET', `/chats/${chatId}/runs`, undefined],
    ['PUT', `/chats/${chatId}`, { title: 'renamed by someone else' }],
    ['PUT', `/chats/${chatId}`, { metadata: { owner: 'someone else' } }],
    ['PUT', `/chats/${chatId}`, { conversation: null }],
    ['DELETE', `/chats/${chatId}`, undefined],
    ['POST', '/bard/run', { input: 'let me in', session_id: chatId }],
    ['POST', '/bard/stream', { input: 'let me in', session_id: chatId }],
    ['POST', '/open/run', { input: 'let me in', session_id: chatId }],
    ['POST', '/open/stream', { input: 'let me in', session_id: chatId }],
  ];
}

describePostgres('isolation between users', () => {
  let database: TestDatabase;
  let server: TestServer;
  let throwing: TestServer;
  let aliceChat: string;
  let aliceCursor: string;
  let bobChat: string;
  let aliceRuns: RunCase[];
  let aliceMemory: string;
  let aliceMemoryCursor: string;
  const held = new HeldModel();
  const modelCalls: ModelCall[] = [];
  const alice = { 'x-user-id': 'alice' };

  /** The agents of the new endpoints: approvals, memories (recalled into each run), runs that stay running. */
  function mountRunRouters(app: express.Express, getUserId: (req: express.Request) => string | undefined) {
    const db = () => database.db;
    const keeper = { getUserId, logger: quiet, runner: keeperRunner(modelCalls), memories: { recall: { topK: 5 } } };
    app.use(createAgentRouter(keeperAgent(), '/keeper', db, keeper));
    app.use(createAgentRouter(new Agent({ name: 'Holder', model: held }), '/held', db, { getUserId, logger: quiet, runner, leaseTtlMs: 3_600_000 }));
  }

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const agent = new Agent({ name: 'Bard', model: 'scripted' });
    const app = express();
    app.use(createAgentRouter(agent, '/bard', () => database.db, { getUserId, runner, logger: quiet }));
    app.use(createAgentRouter(agent, '/open', () => database.db, { getUserId, runner, logger: quiet, autoCreateChats: true }));
    mountRunRouters(app, getUserId);
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    app.use(createMemoryRouter(() => database.db, { getUserId, logger: quiet }));
    server = await listen(app);

    const failing = () => {
      throw new Error('the identity provider is down (secret detail)');
    };
    const broken = express();
    broken.use(createAgentRouter(agent, '/bard', () => database.db, { getUserId: failing, runner, logger: quiet }));
    broken.use(createAgentRouter(agent, '/open', () => database.db, { getUserId: failing, runner, logger: quiet, autoCreateChats: true }));
    mountRunRouters(broken, failing);
    broken.use(createChatRouter(() => database.db, { getUserId: failing, logger: quiet }));
    broken.use(createMemoryRouter(() => database.db, { getUserId: failing, logger: quiet }));
    throwing = await listen(broken);

    // Alice: a chat with a turn and a run, and enough chats to have a second page.
    aliceChat = (await request(server, 'POST', '/bard/run', { headers: alice, body: { input: 'my secret plan' } })).body.session_id;
    for (let i = 0; i < 3; i++) await request(server, 'POST', '/chats', { headers: alice, body: { title: `alice ${i}` } });
    aliceCursor = (await request(server, 'GET', '/chats?limit=2', { headers: alice })).body.next_cursor;
    // Bob has chats of his own.
    bobChat = (await request(server, 'POST', '/chats', { headers: { 'x-user-id': 'bob' }, body: { title: 'bob' } })).body.chat_id;

    // Alice's runs in each state that matters, her state, her memories, a chat made by useChat.
    const finished = (await request(server, 'GET', `/chats/${aliceChat}/runs`, { headers: alice })).body.runs[0];
    await request(server, 'PATCH', `/chats/${aliceChat}/state`, { headers: alice, body: { state: { plan: 'secret' }, user_state: { gold: 'oak' } } });
    const waiting = (await request(server, 'POST', '/keeper/run', { headers: alice, body: { input: 'approve call_alice' } })).body;
    const running = (await request(server, 'POST', '/held/run', { headers: alice, body: { input: 'hold on', background: true } })).body;
    await eventsRecorded(database.db, running.run_id, 2);
    aliceRuns = [
      { state: 'running', chat: running.session_id, run: running.run_id, call: 'call_alice' },
      { state: 'awaiting_approval', chat: waiting.session_id, run: waiting.run_id, call: 'call_alice' },
      { state: 'finished', chat: aliceChat, run: finished.run_id, call: 'call_alice' },
    ];
    for (const fact of ['Alice hides the gold in the oak tree.', 'Alice’s dragon is called Smaug.']) {
      await request(server, 'POST', '/keeper/run', { headers: alice, body: { input: `remember ${fact}` } });
    }
    const memories = await request(server, 'GET', '/memories?limit=1', { headers: alice });
    aliceMemory = memories.body.memories[0].memory_id;
    aliceMemoryCursor = memories.body.next_cursor;
    await (await fetch(`${server.url}/keeper/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...alice },
      body: JSON.stringify({ id: 'alice-ui-chat', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'my UI secret' }] }], trigger: 'submit-message' }),
    })).text();
    await request(server, 'POST', '/keeper/run', { headers: { 'x-user-id': 'bob' }, body: { input: 'remember Bob plays the lute.' } });
  });
  afterAll(async () => {
    held.release();
    await noRunRunning(database.db);
    await server.close();
    await throwing.close();
    await database.destroy();
  });

  async function snapshot() {
    const { rows } = await sql<{ chats: string; items: string; runs: string; alice: unknown }>`
      SELECT (SELECT count(*) FROM agent_chats) AS chats,
             (SELECT count(*) FROM agent_items) AS items,
             (SELECT count(*) FROM agent_runs) AS runs,
             (SELECT row_to_json(c) FROM (SELECT title, metadata, item_count FROM agent_chats WHERE id = ${aliceChat}) c) AS alice
    `.execute(database.db);
    return rows[0];
  }

  const comparable = (answer: Answer) => ({ status: answer.status, body: answer.body ?? answer.text });

  it('gives user B exactly a missing chat’s answer on every endpoint for A’s chat, and changes nothing', async () => {
    const before = await snapshot();
    const bob = { 'x-user-id': 'bob' };
    let checked = 0;
    let revealing = 0;
    for (const [index, [method, path, body]] of endpointsFor(aliceChat).entries()) {
      const theirs = await request(server, method, path, { headers: bob, body });
      expect(theirs.status, `${method} ${path}`).toBe(404);
      expect(theirs.body).toEqual({ success: false, error: { code: 'chat_not_found', message: 'Chat not found.' } });
      // The same call on an id that exists nowhere answers identically (except with
      // autoCreateChats, which creates it: see docs/production.md, "Limits").
      if (!path.startsWith('/open/')) {
        const [, missingPath, missingBody] = endpointsFor('00000000-0000-4000-8000-00000000000a')[index]!;
        const missing = await request(server, method, missingPath, { headers: bob, body: missingBody });
        if (JSON.stringify(comparable(missing)) !== JSON.stringify(comparable(theirs))) revealing++;
      }
      checked++;
    }
    expect(revealing).toBe(0);
    expect(await snapshot()).toEqual(before);

    // Lists and pages: none of A's chats, even with A's own cursor.
    const list = await request(server, 'GET', '/chats?limit=100', { headers: bob });
    expect(new Set(list.body.chats.map((chat: { user_id: string }) => chat.user_id))).toEqual(new Set(['bob']));
    const paged = await request(server, 'GET', `/chats?limit=100&cursor=${aliceCursor}`, { headers: bob });
    expect(paged.status).toBe(200);
    expect(paged.body.chats.every((chat: { user_id: string }) => chat.user_id === 'bob')).toBe(true);
    recordFigures('isolation: user B against user A', { 'endpoints tried on A’s chat': checked, 'answers revealing A’s chat (must be 0)': revealing });
  });

  it('answers 500 without detail, and gives no access, when getUserId throws', async () => {
    const before = await snapshot();
    const calls = [
      ...endpointsFor(aliceChat),
      ['GET', '/chats', undefined],
      ['POST', '/chats', { title: 'x' }],
      ['GET', '/bard/info', undefined],
      ...aliceRuns.flatMap((runCase) => runEndpointsFor(runCase, '"c1-u1"').map(([method, path, body]) => [method, path, body])),
      ['GET', '/memories', undefined],
      ['DELETE', `/memories/${aliceMemory}`, undefined],
      ['DELETE', '/memories', undefined],
    ] as [string, string, unknown][];
    const expected = { success: false, error: { code: 'internal_error', message: 'An internal error occurred.' } };
    let leaking = 0;
    for (const [method, path, body] of calls) {
      const answer = await request(throwing, method, path, { headers: { 'x-user-id': 'alice' }, body });
      if (answer.status !== 500 || JSON.stringify(answer.body) !== JSON.stringify(expected)) leaking++;
    }
    expect(leaking).toBe(0);
    expect(await snapshot()).toEqual(before);
    recordFigures('isolation: getUserId throws', { 'endpoints tried': calls.length, 'answers with detail or access (must be 0)': leaking });
  });
  /** Status, headers (all but Date) and body as bytes: what B could tell two answers apart by. */
  const asSeen = (answer: Answer) =>
    JSON.stringify({ status: answer.status, headers: [...answer.headers].filter(([name]) => name !== 'date'), body: answer.text });

  it('gives user B exactly a missing chat’s, run’s or memory’s answer on every new endpoint, for A’s runs in every state, and changes nothing of A’s', async () => {
    const aliceBefore = await userData(database.db, 'alice');
    const bob = { 'x-user-id': 'bob' };
    const etag = (await request(server, 'GET', `/chats/${aliceChat}/state`, { headers: alice })).headers.get('etag')!;
    const missingChat = asSeen(await request(server, 'GET', `/chats/${MISSING_CHAT}`, { headers: bob }));
    let cells = 0;
    const revealing: string[] = [];
    const compare = async (what: string, theirs: Answer, missing: Answer | string) => {
      cells++;
      if (asSeen(theirs) !== (typeof missing === 'string' ? missing : asSeen(missing))) revealing.push(`${what}: ${theirs.status} ${theirs.text.slice(0, 200)}`);
    };
    for (const runCase of aliceRuns) {
      const mine = runEndpointsFor(runCase, etag);
      const missing = runEndpointsFor({ chat: MISSING_CHAT, run: MISSING_RUN, call: runCase.call }, etag);
      for (const [index, [method, path, body, headers]] of mine.entries()) {
        const theirs = await request(server, method, path, { headers: { ...bob, ...headers }, body });
        const [, missingPath, missingBody, missingHeaders] = missing[index]!;
        await compare(`${runCase.state}: ${method} ${path}`, theirs, await request(server, method, missingPath, { headers: { ...bob, ...missingHeaders }, body: missingBody }));
      }
      // A's run under B's own chat: a run that chat does not have.
      for (const [method, path] of crossEndpointsFor(bobChat, runCase.run)) {
        const theirs = await request(server, method, path, { headers: bob });
        await compare(`${runCase.state}: ${method} ${path}`, theirs, await request(server, method, path.replace(runCase.run, MISSING_RUN), { headers: bob }));
      }
      // useChat's messages and regenerations on A's chat: an unknown id there makes a new chat for
      // the caller, so B's answer is compared with a missing chat's on the chat router.
      for (const trigger of ['submit-message', 'regenerate-message']) {
        const body = { id: runCase.chat, messages: [{ id: 'b1', role: 'user', parts: [{ type: 'text', text: 'mine now' }] }], trigger };
        await compare(`${runCase.state}: POST /keeper/chat (${trigger})`, await request(server, 'POST', '/keeper/chat', { headers: bob, body }), missingChat);
      }
    }
    // useChat's resume and history of A's chat made through the AI SDK endpoint.
    for (const suffix of ['stream', 'messages']) {
      const theirs = await request(server, 'GET', `/keeper/chat/alice-ui-chat/${suffix}`, { headers: bob });
      await compare(`GET /keeper/chat/alice-ui-chat/${suffix}`, theirs, await request(server, 'GET', `/keeper/chat/never-made/${suffix}`, { headers: bob }));
    }
    // A's memory: deleting it is deleting a memory that does not exist.
    await compare('DELETE /memories/:A’s', await request(server, 'DELETE', `/memories/${aliceMemory}`, { headers: bob }), await request(server, 'DELETE', `/memories/${MISSING_MEMORY}`, { headers: bob }));

    // Listing, paging with A's cursor, recalling with A's words, forgetting everything: B's only.
    let shown = 0;
    const notAlices = (memories: { content: string }[]) => (shown += memories.filter((memory) => memory.content.includes('Alice')).length);
    const listed = await request(server, 'GET', '/memories?limit=100', { headers: bob });
    expect(listed.body.memories.map((memory: { content: string }) => memory.content)).toEqual(['Bob plays the lute.']);
    notAlices(listed.body.memories);
    const paged = await request(server, 'GET', `/memories?limit=100&cursor=${aliceMemoryCursor}`, { headers: bob });
    expect(paged.status).toBe(200);
    notAlices(paged.body.memories);
    const recalled = await request(server, 'POST', '/keeper/run', { headers: bob, body: { input: 'recall gold oak tree dragon Smaug Alice' } });
    expect(recalled.body.final_output).toBe('done: Nothing remembered matches.');
    const asked = await request(server, 'POST', '/keeper/run', { headers: bob, body: { input: 'Where is the gold? Is it in the oak tree, with Smaug the dragon, or with the lute?' } });
    expect(asked.status).toBe(200);
    // memories.recall put B's own memory in B's instructions, and none of A's.
    const instructions = modelCalls.filter((call) => call.userText.startsWith('Where is the gold?')).map((call) => call.instructions).join('\n');
    expect(instructions).toContain('Bob plays the lute.');
    shown += (instructions.match(/Alice/g) ?? []).length;
    const forgotten = await request(server, 'DELETE', '/memories', { headers: bob });
    expect(forgotten.body).toEqual({ deleted: 1 });
    expect(shown).toBe(0);

    expect(revealing).toEqual([]);
    expect(await userData(database.db, 'alice')).toBe(aliceBefore);
    // The comparison is not blind: A's own answers do differ from a missing run's, and her runs are
    // as they were (running, waiting, finished).
    const missingRun = asSeen(await request(server, 'GET', `/chats/${MISSING_CHAT}/runs/${MISSING_RUN}`, { headers: alice }));
    for (const { state, chat, run } of aliceRuns) {
      const own = await request(server, 'GET', `/chats/${chat}/runs/${run}`, { headers: alice });
      expect(asSeen(own)).not.toBe(missingRun);
      expect(own.body.status).toBe(state === 'finished' ? 'completed' : state);
    }
    recordFigures('isolation: runs, approvals, AI SDK, state, memories', {
      'matrix cells (endpoint × state of A’s run)': cells,
      'answers differing from a missing one’s (must be 0)': revealing.length,
      'A’s memories shown to B (must be 0)': shown,
      'changes to A’s data (must be 0)': (await userData(database.db, 'alice')) === aliceBefore ? 0 : 1,
    });
  });
});
