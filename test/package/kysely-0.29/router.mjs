// Both routers in a host app, over HTTP: a chat is created, a run and a stream store their turns,
// the chat reads back with both, and another user cannot see it. Run by .ci/package-check.sh in
// the consumer project with kysely 0.29.
import { once } from 'node:events';
import express from 'express';
import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createAgentRouter, createChatRouter, migrate } from 'express-agent-router';

const db = new Kysely({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});
await migrate(db);
const agent = new Agent({
  name: 'Assistant',
  model: new ScriptedModel([[assistantMessage('Hello Ada.')], [assistantMessage('Streamed to Ada.')]]),
});
const getUserId = (req) => req.get('x-user-id');
const getDb = () => db;
const app = express();
const agentRouter = createAgentRouter(agent, '/assistant', getDb, { getUserId });
app.use(agentRouter);
app.use(createChatRouter(getDb, { getUserId }));
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${server.address().port}`;

async function call(method, path, body, user = 'ada') {
  const response = await fetch(base + path, {
    method,
    headers: { 'x-user-id': user, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, body: type.includes('json') ? await response.json() : await response.text() };
}
function expect(condition, what, answer) {
  if (!condition) throw new Error(`router check: ${what}; got ${JSON.stringify(answer)}`);
}

try {
  const created = await call('POST', '/chats', { title: 'Consumer check' });
  expect(created.status === 201 && created.body.chat_id, 'POST /chats answers 201 with a chat_id', created);
  const chatId = created.body.chat_id;

  const ran = await call('POST', '/assistant/run', { session_id: chatId, input: 'My name is Ada.' });
  expect(ran.status === 200 && ran.body.final_output === 'Hello Ada.', 'POST /run answers the final output', ran);

  const streamed = await call('POST', '/assistant/stream', { session_id: chatId, input: 'Stream it.' });
  expect(
    streamed.status === 200 && streamed.body.includes('event: run.completed') && streamed.body.includes('Streamed to Ada.'),
    'POST /stream ends with run.completed',
    streamed,
  );

  const chat = await call('GET', `/chats/${chatId}`);
  const said = chat.body.conversation?.map((message) => `${message.role}: ${message.content}`);
  expect(
    JSON.stringify(said) ===
      JSON.stringify(['user: My name is Ada.', 'assistant: Hello Ada.', 'user: Stream it.', 'assistant: Streamed to Ada.']),
    'GET /chats/:id holds both turns',
    chat,
  );
  const runs = await call('GET', `/chats/${chatId}/runs`);
  expect(runs.body.runs?.length === 2 && runs.body.runs.every((run) => run.status === 'completed'), 'two completed runs', runs);

  const stranger = await call('GET', `/chats/${chatId}`, undefined, 'mallory');
  expect(stranger.status === 404 && stranger.body.error?.code === 'chat_not_found', 'another user gets 404', stranger);
  console.log('router check ok: /run, /stream and /chats over HTTP');
} finally {
  server.close();
  server.closeAllConnections(); // fetch keeps its connections alive
  await agentRouter.drain({ timeoutMs: 5_000 });
  await db.destroy();
}
