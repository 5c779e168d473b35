import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import type { Chat, ChatStore, CreateChatInput, CreateStore } from '../../src/chats/chat-store.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { PostgresChatStore } from '../../src/chats/postgres-chat-store.js';
import type { AnyKysely } from '../../src/db/schema.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const as = (user: string) => ({ 'x-user-id': user });
const ORGS: Record<string, string> = { alice: 'acme', bob: 'acme', eve: 'umbrella' };

/**
 * A host's store: it audits every chat it creates and shares chats within an organisation (any
 * member may use a chat of another member), on top of the default store.
 */
class OrganisationStore extends PostgresChatStore implements ChatStore {
  constructor(
    db: AnyKysely,
    readonly audit: string[],
  ) {
    super({ db });
  }

  override async createChat(userId: string, input?: CreateChatInput): Promise<Chat | undefined> {
    const chat = await super.createChat(userId, input);
    if (chat) this.audit.push(`${userId} created ${chat.id}`);
    return chat;
  }

  override async getChat(userId: string, chatId: string): Promise<Chat | undefined> {
    for (const member of Object.keys(ORGS).filter((user) => ORGS[user] === ORGS[userId])) {
      const chat = await super.getChat(member, chatId);
      if (chat) return chat;
    }
    return undefined;
  }
}

describeEachEngine('the agent router goes through the host’s chat store', (engine) => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  const audit: string[] = [];
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    audit.length = 0;
  });
  afterAll(() => database.destroy());

  async function serve(options: { createStore?: CreateStore; autoCreateChats?: boolean } = {}) {
    const model = new ScriptedModel(Array.from({ length: 10 }, (_, i) => [assistantMessage(`answer ${i}`)]));
    const app = express();
    app.use(createAgentRouter(new Agent({ name: 'Shared', model }), '/a', () => database.db, { getUserId, logger: quiet, ...options }));
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet, createStore: options.createStore }));
    server = await listen(app);
    return server;
  }

  const organisationStore: CreateStore = (db) => new OrganisationStore(db, audit);

  it('creates a new chat through the store, which sees it (the audit records it)', async () => {
    const app = await serve({ createStore: organisationStore });
    const answer = await request(app, 'POST', '/a/run', { headers: as('alice'), body: { input: 'Hello there' } });
    expect(answer.status).toBe(200);
    expect(audit).toEqual([`alice created ${answer.body.session_id}`]);
    const chat = await request(app, 'GET', `/chats/${answer.body.session_id}`, { headers: as('alice') });
    expect(chat.body).toMatchObject({ user_id: 'alice', title: 'Hello there', item_count: 2 });
  });

  it('lets the store decide who may run on a chat: a colleague may, an outsider may not', async () => {
    const app = await serve({ createStore: organisationStore });
    const chatId = (await request(app, 'POST', '/a/run', { headers: as('alice'), body: { input: 'Plan the launch' } })).body.session_id;
    const colleague = await request(app, 'POST', '/a/run', { headers: as('bob'), body: { input: 'Add a budget', session_id: chatId } });
    expect(colleague.status).toBe(200);
    const outsider = await request(app, 'POST', '/a/run', { headers: as('eve'), body: { input: 'Leak it', session_id: chatId } });
    expect(outsider.status).toBe(404);
    expect(outsider.body.error.code).toBe('chat_not_found');
    const { rows } = await sql<{ user_id: string; status: string }>`
      SELECT user_id, status FROM agent_runs WHERE session_id = ${chatId} ORDER BY started_at
    `.execute(database.db);
    expect(rows).toEqual([
      { user_id: 'alice', status: 'completed' },
      { user_id: 'bob', status: 'completed' },
    ]);
  });

  it('keeps the owner-only rule without a store: the colleague gets 404', async () => {
    const app = await serve();
    const chatId = (await request(app, 'POST', '/a/run', { headers: as('alice'), body: { input: 'Plan the launch' } })).body.session_id;
    const colleague = await request(app, 'POST', '/a/run', { headers: as('bob'), body: { input: 'Add a budget', session_id: chatId } });
    expect(colleague.status).toBe(404);
  });

  it('creates an unknown session id through the store with autoCreateChats', async () => {
    const app = await serve({ createStore: organisationStore, autoCreateChats: true });
    const answer = await request(app, 'POST', '/a/run', { headers: as('alice'), body: { input: 'New here', session_id: 'client-made-id' } });
    expect(answer.status).toBe(200);
    expect(audit).toEqual(['alice created client-made-id']);
    // An id in another organisation's hands stays theirs.
    const taken = await request(app, 'POST', '/a/run', { headers: as('eve'), body: { input: 'Mine now', session_id: 'client-made-id' } });
    expect(taken.status).toBe(404);
  });
});
