import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

// Every `express` import in this file's module graph, the library's included, gets Express 4
// (installed as the `express4` alias), as in a host app that has not moved to Express 5.
vi.mock('express', async () => {
  const express4 = await vi.importActual<typeof import('express')>('express4');
  return { ...express4, default: (express4 as unknown as { default?: unknown }).default ?? express4 };
});

it('runs on Express 4', async () => {
  const { version } = (await vi.importActual<{ default: { version: string } }>('express4/package.json')).default;
  expect(version).toMatch(/^4\./);
  const express4 = await vi.importActual<{ default?: unknown }>('express4');
  expect(express).toBe(express4.default ?? express4);
});

describeEachEngine('the chat router on Express 4', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    const app = express();
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const model = new ScriptedModel([[assistantMessage('from express 4')], [assistantMessage('streamed on express 4')]]);
    app.use(createAgentRouter(new Agent({ name: 'Old school', model }), '/old', () => database.db, { getUserId }));
    app.use(createChatRouter(() => database.db, { getUserId }));
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    await database.destroy();
  });

  const alice = { headers: { 'x-user-id': 'alice' } };

  it('serves every endpoint, including async errors (which Express 4 does not catch itself)', async () => {
    const created = await request(server, 'POST', '/chats', { ...alice, body: { title: 'on express 4' } });
    expect(created.status).toBe(201);
    const id = created.body.chat_id;
    expect((await request(server, 'GET', '/chats', alice)).body.chats).toHaveLength(1);
    expect((await request(server, 'GET', `/chats/${id}`, alice)).body).toMatchObject({ conversation: [] });
    expect((await request(server, 'GET', `/chats/${id}/items`, alice)).body).toEqual({ items: [], next_cursor: null });
    expect((await request(server, 'PUT', `/chats/${id}`, { ...alice, body: { title: 'renamed' } })).body.title).toBe('renamed');
    expect((await request(server, 'DELETE', `/chats/${id}`, alice)).status).toBe(204);
    // Rejected promises must reach the error middleware instead of hanging the request.
    expect((await request(server, 'GET', `/chats/${id}`, alice)).status).toBe(404);
    expect((await request(server, 'GET', '/chats')).status).toBe(401);
  });

  it('answers bad input with the same envelope', async () => {
    const notJson = await request(server, 'POST', '/chats', { ...alice, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: { code: 'invalid_request' } });
    // Express 4 parses ?limit[a]=1 into an object: still a 400, not a 500.
    const nested = await request(server, 'GET', '/chats?limit[a]=1', alice);
    expect(nested.status).toBe(400);
    const badEncoding = await request(server, 'GET', '/chats/%E0%A4%A', alice);
    expect(badEncoding.status).toBe(400);
  });

  it('serves /run, /stream and /info', async () => {
    const ran = await request(server, 'POST', '/old/run', { ...alice, body: { input: 'hello' } });
    expect(ran.body).toMatchObject({ success: true, final_output: 'from express 4' });
    const streamed = await stream(server, '/old/stream', { input: 'again', session_id: ran.body.session_id }, alice.headers);
    expect(streamed.events.map((event) => event.event)).toEqual(['run.started', 'text.delta', 'run.completed']);
    expect((await request(server, 'GET', '/old/info', alice)).body.agent_name).toBe('Old school');
    expect((await request(server, 'POST', '/old/run', { ...alice, body: { input: 'x', session_id: 'missing' } })).status).toBe(404);
  });
});
