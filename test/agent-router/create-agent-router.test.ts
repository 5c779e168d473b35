import { Agent, tool, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder, modelStream } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { ConfigurationError } from '../../src/errors.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import { sleep, transcript, stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const alice = { 'x-user-id': 'alice' };

/** An app with the given agents mounted on their prefixes, plus the chat router. */
async function serve(db: TestDatabase, agents: [Agent<any, any>, string, object?][]): Promise<TestServer> {
  const app = express();
  for (const [agent, prefix, options] of agents) {
    app.use(createAgentRouter(agent, prefix, () => db.db, { getUserId, logger: quiet, ...options }));
  }
  app.use(createChatRouter(() => db.db, { getUserId, logger: quiet }));
  return listen(app);
}

/**
 * An agent with an `echo` tool whose model makes the given calls, then answers every request
 * with `answer N`, writing down the transcript of each request it answers.
 */
function transcribingAgent(name: string, calls: ReturnType<typeof functionCall>[]) {
  const seen: string[][] = [];
  const respond = modelResponder(({ request }) => {
    seen.push(transcript(request.input as AgentInputItem[]));
    return [assistantMessage(`answer ${seen.length}`)];
  });
  const echo = tool({ name: 'echo', description: 'e', parameters: z.object({ v: z.string() }), execute: async ({ v }) => v });
  const model = new ScriptedModel([calls, respond, respond, respond]);
  return { agent: new Agent({ name, model, tools: [echo] }), seen };
}

describeEachEngine('createAgentRouter', (engine) => {
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

  it('lets two agents on two prefixes share one session, each seeing the other’s turns', async () => {
    const bardModel = new ScriptedModel([
      [assistantMessage('The dragon sleeps under the mountain.')],
      modelResponder(({ request }) => [
        assistantMessage(`Bard heard: ${transcript(request.input as AgentInputItem[]).join(' | ')}`),
      ]),
    ]);
    const worldModel = new ScriptedModel([
      modelResponder(({ request }) => [
        assistantMessage(`World recalls: ${transcript(request.input as AgentInputItem[]).join(' | ')}`),
      ]),
    ]);
    const bard = new Agent({ name: 'Bard', instructions: 'Tell tales.', model: bardModel });
    const world = new Agent({ name: 'World builder', instructions: 'Build worlds.', model: worldModel });
    server = await serve(database, [
      [bard, '/bard'],
      [world, '/world'],
    ]);

    const first = await request(server, 'POST', '/bard/run', { headers: alice, body: { input: 'Where is the dragon?' } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      success: true,
      status: 'completed',
      final_output: 'The dragon sleeps under the mountain.',
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      run_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      agent_name: 'Bard',
      usage: { requests: 1, input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    });
    const sessionId = first.body.session_id;

    const second = await request(server, 'POST', '/world/run', {
      headers: alice,
      body: { input: 'Describe that mountain.', session_id: sessionId },
    });
    expect(second.body.final_output).toBe(
      'World recalls: user: Where is the dragon? | assistant: The dragon sleeps under the mountain. | user: Describe that mountain.',
    );
    expect(second.body.agent_name).toBe('World builder');

    const third = await request(server, 'POST', '/bard/run', { headers: alice, body: { input: 'And then?', session_id: sessionId } });
    expect(third.body.final_output).toMatch(/^Bard heard: user: Where is the dragon\? .* \| assistant: World recalls: .* \| user: And then\?$/);

    const chat = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
    expect(chat.body).toMatchObject({ title: 'Where is the dragon?', item_count: 6, last_agent_name: 'Bard' });
    expect(chat.body.conversation.map((line: { role: string; agent_name: string }) => `${line.role}/${line.agent_name}`)).toEqual([
      'user/Bard',
      'assistant/Bard',
      'user/World builder',
      'assistant/World builder',
      'user/Bard',
      'assistant/Bard',
    ]);
    const { rows } = await sql<{ run_id: string; n: string }>`
      SELECT run_id, count(*) AS n FROM agent_items WHERE session_id = ${sessionId} GROUP BY run_id
    `.execute(database.db);
    expect(rows.map((row) => row.run_id).sort()).toEqual([first.body.run_id, second.body.run_id, third.body.run_id].sort());
  });

  it('runs tool calls and handoffs through /run, storing which agent produced each item', async () => {
    const lookups: string[] = [];
    const lookup = tool({
      name: 'lookup_rule',
      description: 'Look up a game rule.',
      parameters: z.object({ rule: z.string() }),
      execute: async ({ rule }) => {
        lookups.push(rule);
        return `${rule}: roll a d20`;
      },
    });
    const rules = new Agent({
      name: 'Rules lawyer',
      handoffDescription: 'Answers rules questions.',
      model: new ScriptedModel([
        [functionCall('lookup_rule', { rule: 'grapple' }, { callId: 'call_rule' })],
        [assistantMessage('To grapple, roll a d20.')],
      ]),
      tools: [lookup],
    });
    const host = new Agent({
      name: 'Host',
      model: new ScriptedModel([[functionCall('transfer_to_Rules_lawyer', {}, { callId: 'call_handoff' })]]),
      handoffs: [rules],
    });
    server = await serve(database, [[host, '/host']]);
    const answer = await request(server, 'POST', '/host/run', { headers: alice, body: { input: 'How do I grapple?' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ final_output: 'To grapple, roll a d20.', agent_name: 'Rules lawyer' });
    expect(lookups).toEqual(['grapple']);
    const rows = await database.db
      .selectFrom('agent_items')
      .select(['item', 'agent_name', 'run_id'])
      .where('session_id', '=', answer.body.session_id)
      .orderBy('position')
      .execute();
    expect(rows.map((row: { item: AgentInputItem; agent_name: string }) => [row.item.type ?? 'message', row.agent_name])).toEqual([
      ['message', 'Host'],
      ['function_call', 'Host'],
      ['function_call_result', 'Host'],
      ['function_call', 'Rules lawyer'],
      ['function_call_result', 'Rules lawyer'],
      ['message', 'Rules lawyer'],
    ]);
    expect(new Set(rows.map((row: { run_id: string }) => row.run_id))).toEqual(new Set([answer.body.run_id]));
    const chat = await request(server, 'GET', `/chats/${answer.body.session_id}`, { headers: alice });
    expect(chat.body.last_agent_name).toBe('Rules lawyer');
  });

  it('streams the exact event sequence of a tool call, a handoff and the answer', async () => {
    const weather = tool({
      name: 'get_weather',
      description: 'Weather in a city.',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => `sunny in ${city}`,
    });
    const forecaster = new Agent({
      name: 'Forecaster',
      handoffDescription: 'Knows the weather.',
      tools: [weather],
      model: new ScriptedModel([
        [functionCall('get_weather', { city: 'Oslo' }, { callId: 'call_w' })],
        modelStream([
          { type: 'response_started' },
          { type: 'output_text_delta', delta: 'Sunny ' },
          { type: 'output_text_delta', delta: 'in ' },
          { type: 'output_text_delta', delta: 'Oslo.' },
          {
            type: 'response_done',
            response: {
              id: 'resp_1',
              usage: { requests: 1, inputTokens: 30, outputTokens: 4, totalTokens: 34, inputTokensDetails: [], outputTokensDetails: [] },
              output: [assistantMessage('Sunny in Oslo.')],
            },
          },
        ]),
      ]),
    });
    const concierge = new Agent({
      name: 'Concierge',
      handoffs: [forecaster],
      model: new ScriptedModel([[functionCall('transfer_to_Forecaster', {}, { callId: 'call_h' })]]),
    });
    server = await serve(database, [[concierge, '/concierge']]);
    const answer = await stream(server, '/concierge/stream', { input: 'Weather in Oslo?' }, alice);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(answer.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(answer.headers.get('x-accel-buffering')).toBe('no');
    const sessionId = answer.events[0]!.data.session_id;
    const runId = answer.events[0]!.data.run_id;
    expect(answer.events.map((event) => [event.id, event.event, event.data])).toEqual([
      [1, 'run.started', { session_id: sessionId, run_id: runId, agent_name: 'Concierge' }],
      [2, 'agent.updated', { agent_name: 'Forecaster' }],
      [3, 'tool.called', { name: 'get_weather', arguments: '{"city":"Oslo"}', call_id: 'call_w' }],
      [4, 'tool.output', { call_id: 'call_w', output: 'sunny in Oslo' }],
      [5, 'text.delta', { delta: 'Sunny ' }],
      [6, 'text.delta', { delta: 'in ' }],
      [7, 'text.delta', { delta: 'Oslo.' }],
      [
        8,
        'run.completed',
        {
          status: 'completed',
          final_output: 'Sunny in Oslo.',
          session_id: sessionId,
          run_id: runId,
          agent_name: 'Forecaster',
          usage: { requests: 3, input_tokens: 30, output_tokens: 4, total_tokens: 34 },
        },
      ],
    ]);
    // The turn is stored by the time run.completed is sent.
    const chat = await request(server, 'GET', `/chats/${sessionId}`, { headers: alice });
    expect(chat.body).toMatchObject({ item_count: 6, usage: { input_tokens: 30, output_tokens: 4, total_tokens: 34 } });
    const runs = await request(server, 'GET', `/chats/${sessionId}/runs`, { headers: alice });
    expect(runs.body.runs).toEqual([
      expect.objectContaining({
        run_id: runId,
        status: 'completed',
        streamed: true,
        agent_name: 'Concierge',
        last_agent_name: 'Forecaster',
        input: 'Weather in Oslo?',
        final_output: 'Sunny in Oslo.',
        item_count: 6,
        error: null,
        usage: { requests: 3, input_tokens: 30, output_tokens: 4, total_tokens: 34 },
        finished_at: expect.any(String),
        duration_ms: expect.any(Number),
      }),
    ]);
  });

  it('accepts a list of input items, and continues a chat created through /chats', async () => {
    const model = new ScriptedModel([
      modelResponder(({ request }) => [assistantMessage(`got ${transcript(request.input as AgentInputItem[]).join(' | ')}`)]),
    ]);
    server = await serve(database, [[new Agent({ name: 'Echo', model }), '/echo']]);
    const chat = await request(server, 'POST', '/chats', { headers: alice, body: { title: 'made first' } });
    const answer = await request(server, 'POST', '/echo/run', {
      headers: alice,
      body: {
        session_id: chat.body.chat_id,
        input: [
          { role: 'user', content: 'part one' },
          { role: 'user', content: [{ type: 'input_text', text: 'part two' }] },
        ],
      },
    });
    expect(answer.body).toMatchObject({ session_id: chat.body.chat_id, final_output: 'got user: part one | user: part two' });
    expect((await request(server, 'GET', `/chats/${chat.body.chat_id}`, { headers: alice })).body.title).toBe('made first');
  });

  it('answers 404 for an unknown or someone else’s session, and creates it with autoCreateChats', async () => {
    const model = new ScriptedModel([[assistantMessage('hi')], [assistantMessage('created')]]);
    const agent = new Agent({ name: 'Greeter', model });
    server = await serve(database, [
      [agent, '/strict'],
      [agent, '/lenient', { autoCreateChats: true }],
    ]);
    const mine = await request(server, 'POST', '/strict/run', { headers: alice, body: { input: 'hello' } });
    const bob = { 'x-user-id': 'bob' };
    for (const sessionId of ['no-such-chat', mine.body.session_id]) {
      for (const path of ['/strict/run', '/strict/stream']) {
        const answer = await request(server, 'POST', path, { headers: bob, body: { input: 'hi', session_id: sessionId } });
        expect(answer.status).toBe(404);
        expect(answer.body).toEqual({ success: false, error: { code: 'chat_not_found', message: 'Chat not found.' } });
      }
    }
    // autoCreateChats makes a missing id the caller's chat, never someone else's.
    const stolen = await request(server, 'POST', '/lenient/run', { headers: bob, body: { input: 'hi', session_id: mine.body.session_id } });
    expect(stolen.status).toBe(404);
    const created = await request(server, 'POST', '/lenient/run', { headers: bob, body: { input: 'new chat please', session_id: 'bob-chat-1' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ session_id: 'bob-chat-1', final_output: 'created' });
    const chat = await request(server, 'GET', '/chats/bob-chat-1', { headers: bob });
    expect(chat.body).toMatchObject({ user_id: 'bob', title: 'new chat please', item_count: 2 });
  });

  it('describes the agent at /info without calling dynamic instructions', async () => {
    let called = false;
    const planner = new Agent({
      name: 'Planner',
      instructions: () => {
        called = true;
        return 'secret';
      },
      model: 'gpt-4o-mini',
      tools: [tool({ name: 't', description: 'd', parameters: z.object({}), execute: async () => 'x' })],
      handoffs: [new Agent({ name: 'Helper' })],
    });
    const plain = new Agent({ name: 'Plain', instructions: 'Be plain.' });
    server = await serve(database, [
      [planner, '/api/planner', { exposeInstructions: true }],
      [plain, '/plain', { exposeInstructions: true }],
    ]);
    const info = await request(server, 'GET', '/api/planner/info', { headers: alice });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      name: 'Planner',
      agent_name: 'Planner',
      instructions: '[dynamic: computed by a function at run time]',
      model: 'gpt-4o-mini',
      tools_count: 1,
      handoffs_count: 1,
      mcp_servers: [],
      endpoints: {
        run: '/api/planner/run',
        stream: '/api/planner/stream',
        approvals: '/api/planner/runs/{run_id}/approvals',
        info: '/api/planner/info',
        chat: '/api/planner/chat',
        chat_stream: '/api/planner/chat/{chat_id}/stream',
        chat_messages: '/api/planner/chat/{chat_id}/messages',
      },
      session_config: { sessions_enabled: true, session_type: 'PostgreSQL', description: expect.any(String) },
    });
    expect(called).toBe(false);
    expect((await request(server, 'GET', '/plain/info', { headers: alice })).body).toMatchObject({
      instructions: 'Be plain.',
      model: 'default',
    });
    expect((await request(server, 'GET', '/plain/info')).status).toBe(401);
    // Other methods on the router's paths answer 405 in the JSON envelope.
    const wrong = await request(server, 'GET', '/plain/run', { headers: alice });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(wrong.body).toMatchObject({ error: { code: 'method_not_allowed' } });
    expect((await request(server, 'POST', '/plain/info', { headers: alice })).headers.get('allow')).toBe('GET');
    // A run or chat id left out is a 404 in the envelope, not the host's HTML page.
    for (const [method, path] of [
      ['POST', '/plain/runs//approvals'],
      ['GET', '/plain/chat//stream'],
      ['GET', '/plain/chat//messages'],
      ['GET', '/Plain/Chat//messages'],
    ] as const) {
      const missing = await request(server, method, path, { headers: alice });
      expect(missing.status, `${method} ${path}`).toBe(404);
      expect(missing.body).toEqual({ success: false, error: { code: 'not_found', message: `No endpoint at ${path}.` } });
    }
  });

  it('sends the model at most historyLimit items, cut on a turn boundary', async () => {
    const { agent, seen } = transcribingAgent('Short memory', [functionCall('echo', { v: 'a' }, { callId: 'c1' })]);
    server = await serve(database, [[agent, '/short', { historyLimit: 3 }]]);
    // Turn 1: user, function_call, function_call_result, assistant (4 items).
    const first = await request(server, 'POST', '/short/run', { headers: alice, body: { input: 'one' } });
    const session_id = first.body.session_id;
    await request(server, 'POST', '/short/run', { headers: alice, body: { input: 'two', session_id } });
    await request(server, 'POST', '/short/run', { headers: alice, body: { input: 'three', session_id } });
    // The last 3 stored items before turn 2 were call, result, answer: a window with no turn
    // start, kept whole because the result still has its call.
    expect(seen[1]).toEqual(['function_call', 'function_call_result', 'assistant: answer 1', 'user: two']);
    // Before turn 3 the last 3 were [answer 1, user two, answer 2]: cut at the user message.
    expect(seen[2]).toEqual(['user: two', 'assistant: answer 2', 'user: three']);
    // The store keeps everything.
    const chat = await request(server, 'GET', `/chats/${session_id}`, { headers: alice });
    expect(chat.body.item_count).toBe(8);
  });

  it('never sends the model a tool result without its call when historyLimit cuts parallel calls', async () => {
    const { agent, seen } = transcribingAgent('Parallel', [
      functionCall('echo', { v: 'a' }, { callId: 'A' }),
      functionCall('echo', { v: 'b' }, { callId: 'B' }),
    ]);
    server = await serve(database, [[agent, '/parallel', { historyLimit: 4 }]]);
    // Turn 1 stores: user, call A, call B, result A, result B, answer (6 items).
    const first = await request(server, 'POST', '/parallel/run', { headers: alice, body: { input: 'one' } });
    const second = await request(server, 'POST', '/parallel/run', {
      headers: alice,
      body: { input: 'two', session_id: first.body.session_id },
    });
    expect(second.status).toBe(200);
    // The newest 4 stored items are [call B, result A, result B, answer 1]: result A's call is
    // not among them, and no later point but the answer keeps every result with its call.
    expect(seen[1]).toEqual(['assistant: answer 1', 'user: two']);
  });

  it('passes maxTurns and the per-request context to the SDK run', async () => {
    const seenContext: unknown[] = [];
    const whoami = tool({
      name: 'whoami',
      description: 'Who is asking.',
      parameters: z.object({}),
      execute: async (_args, runContext) => {
        seenContext.push(runContext?.context);
        return 'ok';
      },
    });
    const model = new ScriptedModel([
      [functionCall('whoami', {}, { callId: 'c1' })],
      [assistantMessage('done')],
    ]);
    const agent = new Agent<{ tenant: string }>({ name: 'Ctx', model, tools: [whoami] });
    server = await serve(database, [
      [agent, '/ctx', { context: (req: express.Request) => ({ tenant: req.header('x-tenant') }), maxTurns: 5 }],
    ]);
    const answer = await request(server, 'POST', '/ctx/run', { headers: { ...alice, 'x-tenant': 'acme' }, body: { input: 'hi' } });
    expect(answer.body.final_output).toBe('done');
    expect(seenContext).toEqual([{ tenant: 'acme' }]);
  });
});

describePostgres('createAgentRouter on PostgreSQL: SQL round trips', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('runs /run in 2 SQL round trips (lease + run + history, turn) on a chat, and in 2 on a new one', async () => {
    const statements: string[] = [];
    const counted = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool(database.pool) }),
      log: (event) => {
        if (event.level === 'query') statements.push(event.query.sql.trim().split(/\s+/).slice(0, 3).join(' '));
      },
    });
    const model = new ScriptedModel(Array.from({ length: 3 }, () => [assistantMessage('ok')]));
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Counted', model }), '/c', () => counted, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const first = await request(server, 'POST', '/c/run', { headers: alice, body: { input: 'warm-up' } });
      // The router's first request also starts its periodic sweep of stale runs: let it finish.
      for (let seen = -1; seen !== statements.length; ) {
        seen = statements.length;
        await sleep(150);
      }
      statements.length = 0;
      await request(server, 'POST', '/c/run', { headers: alice, body: { input: 'again', session_id: first.body.session_id } });
      expect(statements).toHaveLength(2);
      statements.length = 0;
      await request(server, 'POST', '/c/run', { headers: alice, body: { input: 'new chat' } });
      expect(statements).toHaveLength(2);
    } finally {
      await server.close();
      await counted.destroy();
    }
  });

  // On PostgreSQL only: pg-mem takes too long to store and read a chat this long.
  it('sends the model the newest 1,000 items of a long chat by default, and everything with historyLimit: null', async () => {
    const seen: string[][] = [];
    const respond = modelResponder(({ request }) => {
      seen.push(transcript(request.input as AgentInputItem[]));
      return [assistantMessage('noted')];
    });
    const model = () => new ScriptedModel([respond, respond]);
    const server = await serve(database, [
      [new Agent({ name: 'Default window', model: model() }), '/default-window'],
      [new Agent({ name: 'Whole history', model: model() }), '/whole-history', { historyLimit: null }],
    ]);
    try {
      for (const prefix of ['/default-window', '/whole-history']) {
        // Turn 1 stores [user, assistant]; then 1,500 more alternating items, as a long chat holds.
        const first = await request(server, 'POST', `${prefix}/run`, { headers: alice, body: { input: 'turn 1' } });
        const chatId = first.body.session_id;
        const older = Array.from({ length: 1_500 }, (_, i): AgentInputItem =>
          i % 2 === 0 ? { role: 'user', content: `question ${i}` } : assistantMessage(`reply ${i}`),
        );
        await new PostgresSession({ db: database.db, sessionId: chatId }).addItems(older);
        const second = await request(server, 'POST', `${prefix}/run`, { headers: alice, body: { input: 'and now?', session_id: chatId } });
        expect(second.status).toBe(200);
      }
      // The default window: the newest 1,000 of the 1,502 stored items (starting at a user
      // message, so cut between turns), then the new input.
      expect(seen[1]).toHaveLength(1_001);
      expect(seen[1]![0]).toBe('user: question 500');
      expect(seen[1]!.at(-1)).toBe('user: and now?');
      // historyLimit: null sends the whole history.
      expect(seen[3]).toHaveLength(1_503);
      expect(seen[3]![0]).toBe('user: turn 1');
    } finally {
      await server.close();
    }
  });
});

describe('createAgentRouter refuses bad configuration at start-up', () => {
  const agent = new Agent({ name: 'A' });
  const getDb = () => ({}) as never;
  it.each([
    ['a prefix without a leading slash', () => createAgentRouter(agent, 'dnd', getDb), /pass "\/dnd"/i],
    ['a prefix with a trailing slash', () => createAgentRouter(agent, '/dnd/', getDb), /must not end with '\/'.*Pass "\/dnd"/],
    ['a prefix with route syntax', () => createAgentRouter(agent, '/:id', getDb), /Pass "\/-id"/],
    ['an empty prefix', () => createAgentRouter(agent, '', getDb), /Pass "\/agent"/],
    ['a getDb that is not a function', () => createAgentRouter(agent, '/a', 'db' as never), /getDb must be a function/],
    ['something that is not an agent', () => createAgentRouter({} as never, '/a', getDb), /agent must be an Agent/],
    ['an unknown option', () => createAgentRouter(agent, '/a', getDb, { historyLimt: 5 } as never), /unknown option "historyLimt"/],
    ['a bad onDisconnect', () => createAgentRouter(agent, '/a', getDb, { onDisconnect: 'stop' as never }), /onDisconnect/],
    ['a runner that is not a Runner', () => createAgentRouter(agent, '/a', getDb, { runner: {} as never }), /Runner/],
    ['a zero maxTurns', () => createAgentRouter(agent, '/a', getDb, { maxTurns: 0 }), /maxTurns/],
    ['an agent name no column can hold', () => createAgentRouter(new Agent({ name: 'n'.repeat(256) }), '/a', getDb), /agent's name must be at most 255/],
  ])('%s', (_, create, message) => {
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(message);
  });
});

