import { randomUUID } from 'node:crypto';
import type { AgentInputItem } from '@openai/agents';
import { beforeAll, expect, it } from 'vitest';
import type { ChatStore, StoredItem } from '../chats/chat-store.js';
import { InvalidRequestError } from '../errors.js';

/**
 * What the contract suite needs from the implementation under test: the store, and the two
 * writes a `ChatStore` never makes itself (agent runs make them), done the way your app does them.
 */
export interface ChatStoreContractSubject {
  /** The store under test. Each test uses owners of its own, so a shared database is fine. */
  store: ChatStore;
  /**
   * Appends items to a chat's conversation, as agent runs would: for chats in the library's
   * tables, `new PostgresSession({ db, sessionId: chatId, agentName }).addItems(items)`.
   */
  addItems(chatId: string, items: AgentInputItem[], agentName?: string): Promise<void>;
  /** Records a finished (`completed`) run on a chat, as the agent router would. */
  addRun(chatId: string, run: { id: string; startedAt: Date; input: string }): Promise<void>;
}

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The `ChatStore` contract as vitest tests (the prose on the `ChatStore` interface, checked): the
 * library runs it against `PostgresChatStore`; run it against your own store. Call it inside a
 * `describe` block; `setup` runs once, before the first test.
 *
 * ```ts
 * import { describe } from 'vitest';
 * import { PostgresSession } from 'express-agent-router';
 * import { chatStoreContract } from 'express-agent-router/testing';
 *
 * describe('AuditedChatStore', () => {
 *   chatStoreContract(async () => ({
 *     store: new AuditedChatStore(db),
 *     addItems: (chatId, items, agentName) =>
 *       new PostgresSession({ db, sessionId: chatId, agentName }).addItems(items),
 *     addRun: (chatId, run) => recordRun(db, chatId, run),
 *   }));
 * });
 * ```
 */
export function chatStoreContract(setup: () => Promise<ChatStoreContractSubject>): void {
  let subject: ChatStoreContractSubject;
  let store: ChatStore;
  beforeAll(async () => {
    subject = await setup();
    store = subject.store;
  });
  // Each test uses its own owners, so tests never see each other's chats.
  const owner = () => `user-${randomUUID()}`;
  /** Every page of the conversation older than `cursor`, oldest page first. */
  async function pagesBefore(userId: string, chatId: string, limit: number, cursor: string | null) {
    const pages: StoredItem[][] = [];
    for (let before = cursor; before !== null; ) {
      const page = (await store.readConversation(userId, chatId, { limit, before }))!;
      pages.unshift(page.entries);
      before = page.olderCursor;
    }
    return pages;
  }

  it('creates a chat with a generated UUID, title and metadata, and gets it back', async () => {
    const alice = owner();
    const chat = await store.createChat(alice, { title: 'Dragons', metadata: { tags: ['fantasy'], n: 1 } });
    expect(chat).toMatchObject({
      userId: alice,
      title: 'Dragons',
      metadata: { tags: ['fantasy'], n: 1 },
      itemCount: 0,
      lastAgentName: null,
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
    });
    expect(chat!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(chat!.createdAt).toBeInstanceOf(Date);
    expect(await store.getChat(alice, chat!.id)).toEqual(chat);
    expect(await store.createChat(alice)).toMatchObject({ title: null, metadata: {} });
  });

  it('never shows a chat to another owner', async () => {
    const [alice, bob] = [owner(), owner()];
    const chat = (await store.createChat(alice, { title: 'secret' }))!;
    await subject.addItems(chat.id, [user('a secret')]);
    expect(await store.getChat(bob, chat.id)).toBeUndefined();
    expect((await store.listChats(bob, { limit: 100 })).entries).toEqual([]);
    expect(await store.updateChat(bob, chat.id, { title: 'mine now' })).toBeUndefined();
    expect(await store.clearConversation(bob, chat.id)).toBeUndefined();
    expect(await store.deleteChat(bob, chat.id)).toBe(false);
    expect(await store.readConversation(bob, chat.id, { limit: 10 })).toBeUndefined();
    expect(await store.listItems(bob, chat.id, { limit: 10 })).toBeUndefined();
    expect(await store.listRuns(bob, chat.id, { limit: 10 })).toBeUndefined();
    // And nothing changed for the owner.
    expect(await store.getChat(alice, chat.id)).toMatchObject({ title: 'secret', itemCount: 1 });
  });

  it('answers a missing chat exactly like another owner’s', async () => {
    const alice = owner();
    const missing = randomUUID();
    expect(await store.getChat(alice, missing)).toBeUndefined();
    expect(await store.updateChat(alice, missing, { title: 'x' })).toBeUndefined();
    expect(await store.clearConversation(alice, missing)).toBeUndefined();
    expect(await store.deleteChat(alice, missing)).toBe(false);
    expect(await store.readConversation(alice, missing, { limit: 10 })).toBeUndefined();
    expect(await store.listItems(alice, missing, { limit: 10 })).toBeUndefined();
    expect(await store.listRuns(alice, missing, { limit: 10 })).toBeUndefined();
  });

  it('creates a chat under a given id once, and refuses an id another owner holds', async () => {
    const [alice, bob] = [owner(), owner()];
    const id = `chosen-${randomUUID()}`;
    const created = await store.createChat(alice, { id, title: 'first' });
    expect(created).toMatchObject({ id, userId: alice, title: 'first' });
    expect(await store.createChat(alice, { id, title: 'second' })).toEqual(created);
    expect(await store.createChat(bob, { id })).toBeUndefined();
  });

  it('lists chats most recently updated first, and pages without duplicate or gap', async () => {
    const alice = owner();
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await store.createChat(alice, { title: `chat ${i}` }))!.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listChats(alice, { limit: 10, cursor });
      seen.push(...page.entries.map((chat) => chat.id));
      for (let i = 1; i < page.entries.length; i++) {
        expect(page.entries[i - 1]!.updatedAt.getTime()).toBeGreaterThanOrEqual(page.entries[i]!.updatedAt.getTime());
      }
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('keeps paging stable when chats are updated or deleted between pages', async () => {
    const alice = owner();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push((await store.createChat(alice, { title: `chat ${i}` }))!.id);
      await sleep(2); // distinct update times, so the expected order is known
    }
    const newestFirst = [...ids].reverse();
    const first = await store.listChats(alice, { limit: 4 });
    expect(first.entries.map((chat) => chat.id)).toEqual(newestFirst.slice(0, 4));
    // Between pages: one chat already seen and one not yet seen are updated (both move to the
    // front, before the cursor), and one not yet seen is deleted.
    await sleep(2);
    await store.updateChat(alice, newestFirst[1]!, { title: 'seen, then renamed' });
    await sleep(2); // so that the second rename is strictly newer (ties are ordered by id)
    await store.updateChat(alice, newestFirst[6]!, { title: 'renamed before being seen' });
    await store.deleteChat(alice, newestFirst[9]!);
    const rest: string[] = [];
    let cursor = first.nextCursor ?? undefined;
    while (cursor) {
      const page = await store.listChats(alice, { limit: 4, cursor });
      rest.push(...page.entries.map((chat) => chat.id));
      cursor = page.nextCursor ?? undefined;
    }
    const untouched = newestFirst.slice(4).filter((id) => id !== newestFirst[6] && id !== newestFirst[9]);
    expect(rest).toEqual(untouched);
    // A new listing shows the renamed chats first.
    const fresh = await store.listChats(alice, { limit: 2 });
    expect(fresh.entries.map((chat) => chat.id)).toEqual([newestFirst[6], newestFirst[1]]);
  });

  it('refuses a malformed cursor', async () => {
    const alice = owner();
    for (const cursor of ['nope', Buffer.from('{"t":"x"}').toString('base64url'), '', '%%%']) {
      await expect(store.listChats(alice, { limit: 5, cursor })).rejects.toThrow(InvalidRequestError);
    }
  });

  it('updates only the fields given and marks the chat updated', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice, { title: 'old', metadata: { keep: true } }))!;
    await sleep(5);
    const renamed = await store.updateChat(alice, chat.id, { title: 'new' });
    expect(renamed).toMatchObject({ title: 'new', metadata: { keep: true } });
    expect(renamed!.updatedAt.getTime()).toBeGreaterThan(chat.updatedAt.getTime());
    expect(await store.updateChat(alice, chat.id, { metadata: { replaced: 1 } })).toMatchObject({
      title: 'new',
      metadata: { replaced: 1 },
    });
    expect(await store.updateChat(alice, chat.id, { title: null })).toMatchObject({ title: null });
  });

  it('clears the conversation and keeps the chat', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice, { title: 'keep me', metadata: { a: 1 } }))!;
    await subject.addItems(chat.id, [user('one'), user('two')], 'Bard');
    expect(await store.getChat(alice, chat.id)).toMatchObject({ itemCount: 2 });
    const cleared = await store.clearConversation(alice, chat.id);
    expect(cleared).toMatchObject({ id: chat.id, title: 'keep me', metadata: { a: 1 }, itemCount: 0 });
    expect(await store.readConversation(alice, chat.id, { limit: 10 })).toEqual({ entries: [], olderCursor: null });
    await subject.addItems(chat.id, [user('three')]);
    const after = (await store.readConversation(alice, chat.id, { limit: 10 }))!;
    expect(after.entries.map((stored) => stored.item)).toEqual([user('three')]);
  });

  it('deletes a chat with its items and runs', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    await subject.addItems(chat.id, [user('bye')]);
    await subject.addRun(chat.id, { id: randomUUID(), startedAt: new Date(), input: 'bye' });
    expect(await store.deleteChat(alice, chat.id)).toBe(true);
    expect(await store.getChat(alice, chat.id)).toBeUndefined();
    expect(await store.deleteChat(alice, chat.id)).toBe(false);
    // Re-creating the same id starts empty: nothing of the old chat comes back.
    const again = (await store.createChat(alice, { id: chat.id }))!;
    expect(await store.readConversation(alice, again.id, { limit: 10 })).toEqual({ entries: [], olderCursor: null });
    expect((await store.listRuns(alice, again.id, { limit: 10 }))!.entries).toEqual([]);
  });

  it('reads the conversation in order, with the agent of each item', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    await subject.addItems(chat.id, [user('hello')], 'Bard');
    await subject.addItems(chat.id, [{ role: 'assistant', content: [{ type: 'output_text', text: 'hi' }], status: 'completed', type: 'message' } as AgentInputItem], 'Sage');
    const conversation = (await store.readConversation(alice, chat.id, { limit: 10 }))!.entries;
    expect(conversation.map((stored) => [stored.agentName, stored.item])).toEqual([
      ['Bard', user('hello')],
      ['Sage', { role: 'assistant', content: [{ type: 'output_text', text: 'hi' }], status: 'completed', type: 'message' }],
    ]);
    expect(conversation[0]!.position).toBeLessThan(conversation[1]!.position);
    expect(conversation[0]!.createdAt).toBeInstanceOf(Date);
  });

  it('reads the newest `limit` items in chronological order, and pages back to the oldest', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    const items = Array.from({ length: 23 }, (_, i) => user(`item ${i}`));
    await subject.addItems(chat.id, items);
    const newest = (await store.readConversation(alice, chat.id, { limit: 5 }))!;
    expect(newest.entries.map((stored) => stored.item)).toEqual(items.slice(18));
    expect(newest.olderCursor).toEqual(expect.any(String));
    // Each older page is in chronological order too; put together, they are the whole chat.
    const pages = [...(await pagesBefore(alice, chat.id, 5, newest.olderCursor)), newest.entries];
    expect(pages.map((page) => page.length)).toEqual([3, 5, 5, 5, 5]);
    expect(pages.flat().map((stored) => stored.item)).toEqual(items);
    // A limit that takes in everything, or exactly everything, leaves nothing older.
    expect((await store.readConversation(alice, chat.id, { limit: 100 }))!).toMatchObject({ olderCursor: null });
    const exact = (await store.readConversation(alice, chat.id, { limit: 23 }))!;
    expect(exact.entries).toHaveLength(23);
    expect(exact.olderCursor).toBeNull();
  });

  it('pages back through a conversation without repeat or gap while items are added', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    const items = Array.from({ length: 12 }, (_, i) => user(`item ${i}`));
    await subject.addItems(chat.id, items);
    const first = (await store.readConversation(alice, chat.id, { limit: 4 }))!;
    // A turn stored between two pages is newer than the first page: older pages never show it.
    await subject.addItems(chat.id, [user('late 1'), user('late 2')]);
    const older = (await pagesBefore(alice, chat.id, 4, first.olderCursor)).flat();
    expect([...older, ...first.entries].map((stored) => stored.item)).toEqual(items);
    const fresh = (await store.readConversation(alice, chat.id, { limit: 3 }))!;
    expect(fresh.entries.map((stored) => stored.item)).toEqual([items[11], user('late 1'), user('late 2')]);
  });

  it('refuses a malformed `before` cursor, and another list’s cursor', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    await subject.addItems(chat.id, Array.from({ length: 3 }, (_, i) => user(`item ${i}`)));
    const itemsCursor = (await store.listItems(alice, chat.id, { limit: 1 }))!.nextCursor!;
    for (const before of ['nope', '', '%%%', Buffer.from('{"b":"x"}').toString('base64url'), itemsCursor]) {
      await expect(store.readConversation(alice, chat.id, { limit: 5, before }), before).rejects.toThrow(InvalidRequestError);
    }
  });

  it('pages through the stored items oldest first', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    const items = Array.from({ length: 23 }, (_, i) => user(`item ${i}`));
    await subject.addItems(chat.id, items);
    const seen: AgentInputItem[] = [];
    let cursor: string | undefined;
    do {
      const page = (await store.listItems(alice, chat.id, { limit: 5, cursor }))!;
      seen.push(...page.entries.map((stored) => stored.item));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(items);
    await expect(store.listItems(alice, chat.id, { limit: 5, cursor: 'bad' })).rejects.toThrow(InvalidRequestError);
  });

  it('lists a chat’s runs newest first, paged', async () => {
    const alice = owner();
    const chat = (await store.createChat(alice))!;
    const base = Date.now();
    const runs = Array.from({ length: 7 }, (_, i) => ({
      id: randomUUID(),
      startedAt: new Date(base + (i % 3) * 1000), // ties on purpose: order falls back to the id
      input: `run ${i}`,
    }));
    for (const run of runs) await subject.addRun(chat.id, run);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await store.listRuns(alice, chat.id, { limit: 3, cursor }))!;
      seen.push(...page.entries.map((run) => run.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const expected = [...runs]
      .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((run) => run.id);
    expect(seen).toEqual(expected);
    const [newest] = (await store.listRuns(alice, chat.id, { limit: 1 }))!.entries;
    expect(newest).toMatchObject({ chatId: chat.id, status: 'completed', input: expect.stringMatching(/^run /) });
  });
}
