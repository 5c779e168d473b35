import { Agent, Runner } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type Answer, type TestServer } from '../helpers/http.js';
import { recordFigures } from './summary.js';

const runner = new Runner({
  tracingDisabled: true,
  modelProvider: { getModel: () => new ScriptedModel([[assistantMessage('an answer')]]) },
});
const quiet = { warn: () => {}, error: () => {} };

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

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const agent = new Agent({ name: 'Bard', model: 'scripted' });
    const app = express();
    app.use(createAgentRouter(agent, '/bard', () => database.db, { getUserId, runner, logger: quiet }));
    app.use(createAgentRouter(agent, '/open', () => database.db, { getUserId, runner, logger: quiet, autoCreateChats: true }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    server = await listen(app);

    const failing = () => {
      throw new Error('the identity provider is down (secret detail)');
    };
    const broken = express();
    broken.use(createAgentRouter(agent, '/bard', () => database.db, { getUserId: failing, runner, logger: quiet }));
    broken.use(createAgentRouter(agent, '/open', () => database.db, { getUserId: failing, runner, logger: quiet, autoCreateChats: true }));
    broken.use(createChatRouter(() => database.db, { getUserId: failing, logger: quiet }));
    throwing = await listen(broken);

    // Alice: a chat with a turn and a run, and enough chats to have a second page.
    const alice = { 'x-user-id': 'alice' };
    aliceChat = (await request(server, 'POST', '/bard/run', { headers: alice, body: { input: 'my secret plan' } })).body.session_id;
    for (let i = 0; i < 3; i++) await request(server, 'POST', '/chats', { headers: alice, body: { title: `alice ${i}` } });
    aliceCursor = (await request(server, 'GET', '/chats?limit=2', { headers: alice })).body.next_cursor;
    // Bob has chats of his own.
    await request(server, 'POST', '/chats', { headers: { 'x-user-id': 'bob' }, body: { title: 'bob' } });
  });
  afterAll(async () => {
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
    expect(list.body.chats.map((chat: { user_id: string }) => chat.user_id)).toEqual(['bob']);
    const paged = await request(server, 'GET', `/chats?limit=100&cursor=${aliceCursor}`, { headers: bob });
    expect(paged.status).toBe(200);
    expect(paged.body.chats.every((chat: { user_id: string }) => chat.user_id === 'bob')).toBe(true);
    recordFigures('isolation: user B against user A', { 'endpoints tried on A’s chat': checked, 'answers revealing A’s chat (must be 0)': revealing });
  });

  it('answers 500 without detail, and gives no access, when getUserId throws', async () => {
    const before = await snapshot();
    const calls = [...endpointsFor(aliceChat), ['GET', '/chats', undefined], ['POST', '/chats', { title: 'x' }], ['GET', '/bard/info', undefined]] as [string, string, unknown][];
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
});
