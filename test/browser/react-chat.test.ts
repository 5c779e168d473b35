// The React example (examples/react-chat: Vite, React and the AI SDK's useChat on the library's
// AI SDK endpoints): started as `npm run example:react` starts it, on pg-mem and on PostgreSQL,
// then driven in headless Chromium as a person would use it: send and watch the answer stream
// in, switch agent within the chat, reload mid-answer, stop an answer, approve and reject a tool
// call. The front end is built here first (`vite build`, as `npm run example:react` does), so
// `npm test` needs no step of its own for it; only this file builds it (a second file building it
// in parallel would empty dist/ under this one's server).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlFor, startExample, type ExampleProcess } from '../examples/example-process.js';
import { sendWithTransport } from '../helpers/ai-sdk-client.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { hasBrowser, launchChromium } from './chromium.js';

// The callbacks given to page.evaluate run in the browser (see chat-page.test.ts).
declare const document: any;
declare const window: any;
declare const MutationObserver: any;

const SERVER = 'examples/react-chat/server.ts';
const SCREENSHOT = 'test/browser/screenshots/react-chat.png';

let app: ExampleProcess;
beforeAll(async () => {
  await buildFrontEnd();
  app = await startExample(SERVER);
}, 120_000);
afterAll(() => app?.stop());

describe('[pg-mem] React chat example', () => {
  it('says at start-up which database and model it uses, and where the page is', () => {
    expect(app.startUpText).toMatch(/^ {2}database {3}pg-mem, an embedded in-memory database/m);
    expect(app.startUpText).toMatch(/^ {2}model {6}offline demo model/m);
    expect(app.startUpText).toContain(`page       ${app.url}/`);
  });

  it('serves the built front end, and the agents useChat talks to', async () => {
    const page = await fetch(`${app.url}/`);
    const html = await page.text();
    expect(html).toContain('React chat (useChat)');
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const bundle = await fetch(`${app.url}${script}`);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    const answer = await sendWithTransport(`${app.url}/world/chat`, 'erin', 'smoke-chat', [
      { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Where am I?' }] },
    ]);
    expect(answer?.metadata).toMatchObject({ agent_name: 'World builder' });
  });
});

describePostgres('React chat example', () => {
  let database: TestDatabase;
  let onPostgres: ExampleProcess;
  beforeAll(async () => {
    // A fresh schema of its own; the example migrates it at start-up.
    database = await createTestDatabase('postgres', { migrate: false });
    onPostgres = await startExample(SERVER, { DATABASE_URL: databaseUrlFor(database.schema!) });
  });
  afterAll(async () => {
    await onPostgres?.stop();
    await database?.destroy();
  });

  it('runs on the PostgreSQL at DATABASE_URL, and keeps the chats there', async () => {
    expect(onPostgres.startUpText).toMatch(/^ {2}database {3}PostgreSQL at postgres:\/\//m);
    expect(onPostgres.startUpText).toContain(database.schema!);
    await sendWithTransport(`${onPostgres.url}/characters/chat`, 'erin', 'pg-chat', [
      { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'My hero is a gnome bard named Pip.' }] },
    ]);
    const chats = await database.db.selectFrom('agent_chats').select(['id', 'user_id', 'last_agent_name']).execute();
    expect(chats).toEqual([{ id: 'pg-chat', user_id: 'erin', last_agent_name: 'Character creator' }]);
  });
});

(hasBrowser('React chat') ? describe : describe.skip)('React chat page on useChat (headless Chromium)', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 120_000);

  afterAll(() => browser?.close());

  async function openPage(url: string, user: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => console.error('[react chat]', error));
    await page.addInitScript((name: string) => window.localStorage.setItem('user', name), user);
    await page.goto(url);
    await page.waitForSelector('[data-testid="chat"][data-status="ready"]');
    return page;
  }

  it('streams an answer, and another agent answers in the same chat from the shared history', async () => {
    const page = await openPage(app.url, 'alice');
    const read = reader(app.url, 'alice');
    await expect.poll(() => page.getByTestId('agent').locator('option').allTextContents()).toEqual([
      'Campaign assistant',
      'Character creator',
      'World builder',
    ]);

    await page.getByTestId('agent').selectOption('/characters');
    const lengths = await sendAndWatch(page, 'My hero is a dwarf fighter named Brom.', 1);
    // The answer grew in pieces as it streamed in, then was complete.
    expect(lengths.length).toBeGreaterThanOrEqual(3);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    expect(new Set(lengths).size).toBe(lengths.length);
    const first = await lastAnswer(page);
    expect(first.meta).toBe('Character creator');
    expect(first.text).toMatch(/^Character creator here, turn 1 of this chat\.\n\nCharacter sheet for Brom, dwarf fighter: .*\.$/s);
    expect(lengths.at(-1)).toBeLessThanOrEqual(first.text.length);
    // It remembered the hero with its tool first: the call and its output are part of the answer.
    expect(first.tools).toEqual([expect.stringMatching(/^remember\(.*Brom.*\)→ Remembered/)]);
    const chatId = chatIdOf(page);

    // Another agent, the same chat: the transport posts to /world/chat with the same id, and the
    // world builder was sent the whole conversation.
    await page.getByTestId('agent').selectOption('/world');
    await sendAndWatch(page, 'Where does my hero come from?', 2);
    const second = await lastAnswer(page);
    expect(second.meta).toBe('World builder');
    expect(second.text).toContain('You told me earlier: "My hero is a dwarf fighter named Brom."');
    expect(second.text).toContain('The character creator answered last: "Character sheet for Brom');
    expect(chatIdOf(page)).toBe(chatId);
    const { chats } = await read('/chats');
    expect(chats).toMatchObject([{ chat_id: chatId, item_count: 6, last_agent_name: 'World builder' }]);

    // A new chat, then back to the first one from the chat list: its history, loaded from
    // GET {prefix}/chat/:id/messages.
    await page.getByTestId('new-chat').click();
    await expect.poll(() => page.getByTestId('message').count()).toBe(0);
    await sendAndWatch(page, 'Tell me about the sea.', 1);
    const items = page.getByTestId('chat-item');
    await expect.poll(() => items.count()).toBe(2);
    await expect.poll(() => items.nth(1).textContent()).toContain('My hero is a dwarf fighter named Brom.6 items · last: World builder');
    await items.nth(1).click();
    await expect.poll(async () => (await messages(page)).map((message) => `${message.role} ${message.meta}`)).toEqual([
      'user You',
      'assistant Character creator',
      'user You',
      'assistant World builder',
    ]);
    const history = await messages(page);
    expect(history[1]).toEqual(first);
    expect(history[3]).toEqual(second);
    expect(chatIdOf(page)).toBe(chatId);

    mkdirSync('test/browser/screenshots', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    await page.close();
  }, 120_000);

  it('picks an answer up after a reload mid-answer, and Stop cancels one', async () => {
    // Slow words, so the page can be reloaded and stopped while an answer is being written.
    const slow = await startExample(SERVER, { DEMO_WORD_DELAY_MS: '120' });
    const page = await openPage(slow.url, 'bea');
    const read = reader(slow.url, 'bea');
    try {
      await page.getByTestId('agent').selectOption('/characters');
      await page.getByTestId('input').fill('My hero is an elf ranger named Ilya.');
      await page.getByTestId('send').click();
      await page.waitForFunction(() => (document.querySelector('[data-streaming] .text')?.textContent?.length ?? 0) > 10);
      const chatId = chatIdOf(page);
      await page.reload();
      // The page comes back to the chat: the question (the run's, not stored until it ends), and
      // the answer, replayed from its start and followed as it goes on (useChat's resume).
      await page.waitForSelector('[data-testid="chat"][data-status="streaming"] [data-streaming]');
      const resumed = await messages(page);
      expect(resumed.map((message) => message.role)).toEqual(['user', 'assistant']);
      expect(resumed[0]!.text).toBe('My hero is an elf ranger named Ilya.');
      await page.waitForSelector('[data-testid="chat"][data-status="ready"]', { timeout: 60_000 });
      const done = await messages(page);
      expect(done.map((message) => message.role)).toEqual(['user', 'assistant']);
      expect(done[1]!.text).toMatch(/^Character creator here, turn 1 of this chat\.\n\nCharacter sheet for Ilya, elf ranger: .*\.$/s);
      expect(chatIdOf(page)).toBe(chatId);
      // The whole answer, as stored.
      const stored = await read(`/characters/chat/${chatId}/messages`);
      expect(stored.messages.at(-1).parts.filter((part: { type: string }) => part.type === 'text').map((part: { text: string }) => part.text)).toEqual([done[1]!.text]);

      // Stop: the run is cancelled on the server (useChat's stop() alone would leave it going on),
      // and the chat keeps what was said.
      await page.getByTestId('input').fill('Now tell me a very long story about her.');
      await page.getByTestId('send').click();
      await page.waitForFunction(() => (document.querySelector('[data-streaming] .text')?.textContent?.length ?? 0) > 10);
      await page.getByTestId('stop').click();
      await page.waitForSelector('[data-testid="chat"][data-status="ready"]');
      await expect.poll(() => page.getByTestId('status').textContent()).toContain('Stopped');
      const stopped = await lastAnswer(page);
      expect(stopped.meta).toBe('Character creator · stopped');
      const { runs } = await read(`/chats/${chatId}/runs`);
      expect(runs.map((run: { status: string }) => run.status)).toEqual(['cancelled', 'completed']);
      const { items } = await read(`/chats/${chatId}/items`);
      expect(items.at(-1)).toMatchObject({ role: 'assistant', status: 'incomplete' });
      // The page shows no more than the run said before it stopped.
      const kept = items.at(-1).content.map((part: { text: string }) => part.text).join('');
      expect(kept.startsWith(stopped.text)).toBe(true);
      expect(stopped.text.length).toBeGreaterThan(10);
      expect(await page.getByTestId('stop').count()).toBe(0);
    } finally {
      await page.close();
      await slow.stop();
    }
  }, 120_000);

  it('asks before kill_npc runs: Approve runs it, Reject does not, and a reload asks again', async () => {
    const page = await openPage(app.url, 'dana');
    const read = reader(app.url, 'dana');
    await page.getByTestId('agent').selectOption('/campaign');

    // The question: a tool part in the approval-requested state, and nothing has run.
    await sendAndAwaitQuestion(page, 'Kill the goblin chief!');
    expect(await page.getByTestId('tool').last().textContent()).toBe('kill_npc({"name":"the goblin chief"})ApproveReject');
    expect(await page.getByTestId('status').textContent()).toContain('Waiting for your decision');
    await page.screenshot({ path: 'test/browser/screenshots/react-chat-approval.png' });
    const chatId = chatIdOf(page);
    const waiting = await read(`/chats/${chatId}/items`);
    expect(waiting.items.map(kindOf)).toEqual(['user', 'function_call kill_npc']);

    // Approve: the answer goes on in the same message, the tool's output in it.
    await decide(page, 'approve', 1);
    const approved = await lastAnswer(page);
    expect(approved.tools).toEqual(['kill_npc({"name":"the goblin chief"})→ The goblin chief is dead, gone from the story for good.']);
    expect(approved.text).toContain('The goblin chief is dead, gone from the story for good. The caves fall silent');

    // Reject: the tool does not run, and the model is told so.
    await sendAndAwaitQuestion(page, 'Kill the innkeeper!');
    await decide(page, 'reject', 2);
    const rejected = await lastAnswer(page);
    expect(rejected.tools).toEqual(['kill_npc({"name":"the innkeeper"})→ rejected: it did not run']);
    expect(rejected.text).toContain('lower your blade: the innkeeper lives, for now.');

    // A reload while a run waits asks again (the history has the call in approval-requested), and
    // the answer goes to the agent that asked, whichever agent is picked now.
    await sendAndAwaitQuestion(page, 'Slay the dragon!');
    await page.reload();
    await page.getByTestId('approve').waitFor();
    await page.getByTestId('agent').selectOption('/world');
    await decide(page, 'approve', 3);
    const afterReload = await lastAnswer(page);
    expect(afterReload.meta).toBe('Campaign assistant');
    expect(afterReload.text).toContain('The dragon is dead, gone from the story for good.');

    // The stored items: the tool ran for the two approved calls only.
    const { items } = await read(`/chats/${chatId}/items`);
    const results = items.filter((item: { type?: string }) => item.type === 'function_call_result');
    expect(results.map((item: { output: { text: string } }) => item.output.text)).toEqual([
      'The goblin chief is dead, gone from the story for good.',
      'Tool execution was not approved.',
      'The dragon is dead, gone from the story for good.',
    ]);
    const { runs } = await read(`/chats/${chatId}/runs`);
    expect(runs.map((run: { agent_name: string; status: string }) => `${run.agent_name} ${run.status}`)).toEqual([
      'Campaign assistant completed',
      'Campaign assistant completed',
      'Campaign assistant completed',
    ]);
    await page.close();
  }, 120_000);
});

/** Builds the front end as `npm run example:react` does, into examples/react-chat/dist. */
function buildFrontEnd(): Promise<void> {
  // A production build: vitest sets NODE_ENV=test, which would make Vite bundle React's dev build.
  const env = { ...process.env };
  delete env.NODE_ENV;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'examples/react-chat/vite.config.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}:\n${output}`))));
  });
}

/** GETs a JSON endpoint as `user`. */
function reader(url: string, user: string) {
  return async (path: string): Promise<any> => {
    const response = await fetch(`${url}${path}`, { headers: { 'x-user-id': user } });
    expect(response.status, path).toBe(200);
    return response.json();
  };
}

function chatIdOf(page: Page): string {
  return decodeURIComponent(new URL(page.url()).hash.replace(/^#chat=/, ''));
}

function kindOf(item: { role?: string; type?: string; name?: string }): string {
  return item.role ?? `${item.type} ${item.name}`;
}

/**
 * Sends a message and waits until the chat is ready again with `answers` assistant messages.
 * Returns the lengths the streaming answer's text had each time the page changed it, seen from
 * inside the page by a MutationObserver (so no polling interval can miss or merge them).
 */
async function sendAndWatch(page: Page, text: string, answers: number): Promise<number[]> {
  await page.evaluate(() => {
    const seen: number[] = [];
    window.streamedLengths = seen;
    window.streamObserver?.disconnect();
    window.streamObserver = new MutationObserver(() => {
      const streaming = document.querySelector('[data-streaming]');
      const length: number = [...(streaming?.querySelectorAll('.text') ?? [])].map((part: any) => part.textContent).join('').length;
      if (length > 0 && length !== seen.at(-1)) seen.push(length);
    });
    window.streamObserver.observe(document.querySelector('[data-testid="messages"]'), { childList: true, subtree: true, characterData: true });
  });
  await page.getByTestId('input').fill(text);
  await page.getByTestId('send').click();
  await settle(page, answers);
  return page.evaluate((): number[] => window.streamedLengths);
}

/** Sends a message that makes the agent call a tool needing approval; waits for the buttons. */
async function sendAndAwaitQuestion(page: Page, text: string): Promise<void> {
  await page.getByTestId('input').fill(text);
  await page.getByTestId('send').click();
  await page.waitForSelector('[data-testid="chat"][data-status="ready"][data-waiting] [data-testid="tool"][data-state="approval-requested"]');
  await page.getByTestId('approve').waitFor();
  await page.getByTestId('reject').waitFor();
}

/** Approves or rejects the waiting call; waits until the resumed answer is complete. */
async function decide(page: Page, button: 'approve' | 'reject', answers: number): Promise<void> {
  await page.getByTestId(button).click();
  await page.waitForFunction(() => !document.querySelector('[data-testid="approve"]'));
  await settle(page, answers);
  expect(await page.locator('[data-testid="tool"][data-state="approval-requested"]').count()).toBe(0);
}

/** Waits until the chat is ready with `answers` assistant messages, and no error is shown. */
async function settle(page: Page, answers: number): Promise<void> {
  await page.waitForFunction(
    (count) =>
      document.querySelector('[data-testid="chat"]')?.dataset.status === 'ready' &&
      !document.querySelector('[data-streaming]') &&
      document.querySelectorAll('[data-testid="message"][data-role="assistant"]').length === count,
    answers,
  );
  expect(await page.locator('[data-testid="status"][data-role="error"]').allTextContents()).toEqual([]);
}

interface ShownMessage {
  role: string;
  meta: string;
  /** The message's text parts, joined. */
  text: string;
  /** Its tool calls, as shown. */
  tools: string[];
}

async function messages(page: Page): Promise<ShownMessage[]> {
  return page.getByTestId('message').evaluateAll((elements: any[]) =>
    elements.map((element) => ({
      role: element.dataset.role ?? '',
      meta: element.querySelector('.meta')?.textContent ?? '',
      text: [...element.querySelectorAll('.text')].map((part: any) => part.textContent).join(''),
      tools: [...element.querySelectorAll('[data-testid="tool"]')].map((part: any) => part.textContent),
    })),
  );
}

async function lastAnswer(page: Page): Promise<ShownMessage> {
  return (await messages(page)).filter((message) => message.role === 'assistant').at(-1)!;
}
