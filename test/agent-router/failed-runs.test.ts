import { Agent, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelError } from '@openai/agents/testing';
import express from 'express';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { stream } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const alice = { 'x-user-id': 'alice' };

/**
 * A run that fails never changes its chat: whatever the runner did to the history on the way
 * (added, popped, cleared and re-added items) is applied with the run's completion or not at all.
 * The SDK clears and re-adds the history when the items it saves start with a compaction item.
 */
describeEachEngine('a failed run never changes the chat', (engine) => {
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

  const compactedInput: AgentInputItem[] = [
    { type: 'compaction', encrypted_content: 'x' } as AgentInputItem,
    { role: 'user', content: 'again' },
  ];

  // How the second run fails: the model errors (the streamed runner has saved the input by then),
  // or an output guardrail trips (both runners save the input first).
  const failures = {
    'its model fails': {
      model: () => new ScriptedModel([[assistantMessage('First answer.')], modelError(new Error('model down'))]),
      guardrails: [],
      status: 500,
    },
    'an output guardrail trips': {
      model: () => new ScriptedModel([[assistantMessage('First answer.')], [assistantMessage('Rude answer.')]]),
      guardrails: [{ name: 'polite', execute: async ({ agentOutput }: { agentOutput: unknown }) => ({ tripwireTriggered: agentOutput === 'Rude answer.', outputInfo: {} }) }],
      status: 422,
    },
  };

  for (const [failure, { model, guardrails, status }] of Object.entries(failures)) {
    for (const endpoint of ['run', 'stream'] as const) {
      it(`keeps a 2-item chat whole when a run with a compaction input fails because ${failure} (/${endpoint})`, async () => {
        const agent = new Agent({ name: 'Compactor', model: model(), outputGuardrails: guardrails });
        const app = express();
        app.use(
          createAgentRouter(agent, '/agent', () => database.db, {
            getUserId: (req) => req.header('x-user-id'),
            logger: quiet,
            acceptInputItems: 'any',
          }),
        );
        app.use(createChatRouter(() => database.db, { getUserId: (req) => req.header('x-user-id'), logger: quiet }));
        server = await listen(app);

        const first = await request(server, 'POST', '/agent/run', { headers: alice, body: { input: 'hello' } });
        expect(first.status).toBe(200);
        const chatId = first.body.session_id;
        const before = await request(server, 'GET', `/chats/${chatId}/items`, { headers: alice });
        expect(before.body.items).toHaveLength(2);

        const body = { input: compactedInput, session_id: chatId };
        if (endpoint === 'run') {
          const failed = await request(server, 'POST', '/agent/run', { headers: alice, body });
          expect(failed.status).toBe(status);
        } else {
          const failed = await stream(server, '/agent/stream', body, alice);
          expect(failed.events.at(-1)?.event).toBe('run.failed');
        }

        const chat = await request(server, 'GET', `/chats/${chatId}`, { headers: alice });
        expect(chat.body.item_count).toBe(2);
        const after = await request(server, 'GET', `/chats/${chatId}/items`, { headers: alice });
        expect(after.body.items).toEqual(before.body.items);
      });
    }
  }

  it('stores the compacted history, replacing the old one, when such a run succeeds', async () => {
    const model = new ScriptedModel([[assistantMessage('First answer.')], [assistantMessage('Compacted answer.')]]);
    const agent = new Agent({ name: 'Compactor', model });
    const app = express();
    app.use(
      createAgentRouter(agent, '/agent', () => database.db, {
        getUserId: (req) => req.header('x-user-id'),
        logger: quiet,
        acceptInputItems: 'any',
      }),
    );
    app.use(createChatRouter(() => database.db, { getUserId: (req) => req.header('x-user-id'), logger: quiet }));
    server = await listen(app);

    const first = await request(server, 'POST', '/agent/run', { headers: alice, body: { input: 'hello' } });
    const chatId = first.body.session_id;
    const second = await request(server, 'POST', '/agent/run', {
      headers: alice,
      body: { input: compactedInput, session_id: chatId },
    });
    expect(second.status).toBe(200);
    const items = await request(server, 'GET', `/chats/${chatId}/items`, { headers: alice });
    expect(items.body.items.map((item: { type?: string; role?: string }) => item.role ?? item.type)).toEqual([
      'compaction',
      'user',
      'assistant',
    ]);
    const chat = await request(server, 'GET', `/chats/${chatId}`, { headers: alice });
    expect(chat.body.item_count).toBe(3);
  });
});
