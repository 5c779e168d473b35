// The multi-agent example's chat page, driven in headless Chromium as a person would use it:
// pick an agent, send, watch the answer stream in, switch agent in the same chat, read the
// history, switch chats, approve or reject a tool call. Debian's Chromium (/usr/bin/chromium, installed by .ci/browser-setup.sh)
// is driven by playwright-core, which never downloads a browser of its own.
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExample, type ExampleProcess } from '../examples/example-process.js';

// The callbacks given to page.evaluate run in the browser. The project type-checks without the
// DOM library (it is a Node library), so the browser globals they use are declared loosely here.
declare const document: any;
declare const window: any;
declare const MutationObserver: any;

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test/browser/screenshots/chat-page.png';

const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser) {
  if (process.env.REQUIRE_BROWSER === '1') {
    throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: run bash .ci/browser-setup.sh first.`);
  }
  console.warn(
    `[tests] ${CHROMIUM} is missing: the chat page browser test is SKIPPED. ` +
      'Install it with `bash .ci/browser-setup.sh` (Debian chromium, as root).',
  );
}

(hasBrowser ? describe : describe.skip)('chat page (headless Chromium)', () => {
  let app: ExampleProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    app = await startExample('examples/multi-agent/server.ts');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Without the background-networking flags, Chromium keeps trying to reach Google's hosts,
      // which this machine's closed network refuses.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => console.error('[chat page]', error));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('streams answers, shares the chat between agents, and shows the history', async () => {
    await page.goto(app.url);
    await page.waitForSelector('body[data-state="idle"]');
    await expect.poll(() => page.getByTestId('agent').locator('option').allTextContents()).toEqual([
      'Campaign assistant',
      'Character creator',
      'World builder',
    ]);

    // The character creator; the answer is watched while it streams in.
    await page.getByTestId('agent').selectOption('/characters');
    const lengths = await sendAndWatch(page, 'My hero is a dwarf fighter named Brom.', 1);
    // Text arrived in pieces: the page showed at least two growing, partial answers.
    expect(lengths.length).toBeGreaterThanOrEqual(2);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    expect(new Set(lengths).size).toBe(lengths.length);
    const firstAnswer = await lastAssistant(page);
    expect(firstAnswer.meta).toBe('Character creator');
    expect(firstAnswer.text).toContain('Character sheet for Brom, dwarf fighter');
    expect(lengths.at(-1)!).toBeLessThanOrEqual(firstAnswer.text.length);

    // Another agent in the same chat: it was sent the conversation so far.
    await page.getByTestId('agent').selectOption('/world');
    await sendAndWatch(page, 'Where does my hero come from?', 2);
    const secondAnswer = await lastAssistant(page);
    expect(secondAnswer.meta).toBe('World builder');
    expect(secondAnswer.text).toContain('You told me earlier: "My hero is a dwarf fighter named Brom."');
    expect(secondAnswer.text).toContain('The character creator answered last: "Character sheet for Brom');

    // A third, which calls a tool: the call and its result show up in the conversation.
    await page.getByTestId('agent').selectOption('/campaign');
    await sendAndWatch(page, 'Roll for initiative!', 3);
    expect((await lastAssistant(page)).text).toContain('The world builder answered last: "Brom comes from');

    // The history, as the server stored it: a reload comes back to the chat and shows it all.
    await page.reload();
    await page.waitForSelector('body[data-state="idle"]');
    const history = await messages(page);
    expect(history.map((message) => `${message.role} ${message.meta}`)).toEqual([
      'user You → Character creator',
      // The character creator remembered the hero with its remember tool.
      'tool tool · Character creator',
      'tool tool · Character creator',
      'assistant Character creator',
      'user You → World builder',
      'assistant World builder',
      'user You → Campaign assistant',
      'tool tool · Campaign assistant',
      'tool tool · Campaign assistant',
      'assistant Campaign assistant',
    ]);
    expect(history[7]!.text).toBe('Called roll_dice({"notation":"1d20"})');
    expect(history[8]!.text).toMatch(/^roll_dice returned: Rolled 1d20: \d+$/);

    // A second chat, then back to the first one from the chat list.
    await page.getByTestId('new-chat').click();
    await page.waitForSelector('body[data-state="idle"]');
    expect(await messages(page)).toEqual([]);
    await page.getByTestId('agent').selectOption('/world');
    await sendAndWatch(page, 'Tell me about the sea.', 1);
    const chats = page.getByTestId('chat-item');
    await expect.poll(() => chats.count()).toBe(2);
    // Most recently updated first: the new chat, then the first one (10 items).
    await expect.poll(() => chats.nth(1).textContent()).toContain('My hero is a dwarf fighter named Brom.10 items');
    await chats.nth(1).click();
    await page.waitForSelector('body[data-state="idle"]');
    await expect.poll(async () => (await messages(page)).length).toBe(10);

    mkdirSync('test/browser/screenshots', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 120_000);

  it('completes an answer after a reload mid-answer, and Stop stops one', async () => {
    const slow = await startExample('examples/multi-agent/server.ts', { DEMO_WORD_DELAY_MS: '120' });
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await tab.goto(slow.url);
      await tab.waitForSelector('body[data-state="idle"]');
      await tab.getByTestId('agent').selectOption('/characters');
      await tab.getByTestId('input').fill('My hero is an elf ranger named Ilya.');
      await tab.getByTestId('send').click();
      // A few words in, the page is reloaded: the answer goes on on the server.
      await tab.waitForFunction(() => (document.querySelector('[data-streaming="true"] .text')?.textContent?.length ?? 0) > 10);
      await tab.reload();
      // The page picks the answer up (its stream replays what was said, then goes on) and, once it
      // is done, shows the chat as stored: the whole answer.
      await tab.waitForSelector('[data-testid="answer"][data-streaming="true"]');
      await tab.waitForFunction(
        () =>
          document.body.dataset.state === 'idle' &&
          !document.querySelector('[data-streaming]') &&
          document.querySelectorAll('[data-testid="message"][data-role="assistant"]').length === 1,
        undefined,
        { timeout: 60_000 },
      );
      const afterReload = await messages(tab);
      // The character creator remembered the hero first (the remember tool's call and output).
      expect(afterReload.map((message) => message.role)).toEqual(['user', 'tool', 'tool', 'assistant']);
      expect(afterReload[3]!.text).toContain('Character sheet for Ilya, elf ranger');
      expect(afterReload[3]!.text).toMatch(/[.!]$/);

      // Stop: the answer stops where it was, and the chat keeps what was said.
      await tab.getByTestId('input').fill('Now tell me a very long story about her.');
      await tab.getByTestId('send').click();
      await tab.waitForFunction(() => (document.querySelector('[data-streaming="true"] .text')?.textContent?.length ?? 0) > 10);
      await tab.getByTestId('stop').click();
      await tab.waitForFunction(() => document.body.dataset.state === 'idle' && !document.querySelector('[data-streaming]'));
      await expect.poll(() => tab.getByTestId('status').textContent()).toContain('Stopped');
      const stopped = await messages(tab);
      expect(stopped.map((message) => message.role)).toEqual(['user', 'tool', 'tool', 'assistant', 'user', 'assistant']);
      const full = await fetch(`${slow.url}/chats`, { headers: { 'x-user-id': 'alice' } }).then((r) => r.json() as Promise<any>);
      const chatId = full.chats[0].chat_id;
      const items = await fetch(`${slow.url}/chats/${chatId}/items`, { headers: { 'x-user-id': 'alice' } }).then((r) => r.json() as Promise<any>);
      expect(items.items.at(-1)).toMatchObject({ role: 'assistant', status: 'incomplete' });
      expect(stopped[5]!.text.length).toBeGreaterThan(10);
    } finally {
      await tab.close();
      await slow.stop();
    }
  }, 120_000);

  it('asks before a tool that needs approval: Approve and Reject go on streaming into the same answer, and a reload asks again', async () => {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // A user of its own, so the first test's chats stay as they were.
    await tab.addInitScript(() => window.localStorage.setItem('user', 'dana'));
    const dana = { 'x-user-id': 'dana' };
    const read = (path: string) => fetch(`${app.url}${path}`, { headers: dana }).then((answer) => answer.json() as Promise<any>);
    try {
      await tab.goto(app.url);
      await tab.waitForSelector('body[data-state="idle"]');
      await tab.getByTestId('agent').selectOption('/campaign');

      // Approve: the question comes at the stream's end (run.awaiting_approval), and nothing has run.
      await sendAndAwaitQuestion(tab, 'Kill the goblin chief!');
      expect(await tab.getByTestId('approval').textContent()).toContain('kill_npc({"name":"the goblin chief"})');
      mkdirSync('test/browser/screenshots', { recursive: true });
      await tab.screenshot({ path: 'test/browser/screenshots/chat-page-approval.png' });
      const chatId = (await read('/chats')).chats[0].chat_id;
      const waiting = await read(`/chats/${chatId}`);
      expect(waiting.pending_approval.approvals).toMatchObject([{ tool_name: 'kill_npc', arguments: '{"name":"the goblin chief"}' }]);
      expect(waiting.conversation.map((line: { content: string }) => line.content)).toEqual([
        'Kill the goblin chief!',
        'Called kill_npc({"name":"the goblin chief"})',
      ]);
      const approvedLengths = await decideAndWatch(tab, 'approve', 1);
      // The resumed run's text arrived in pieces, into the answer that had waited.
      expect(approvedLengths.length).toBeGreaterThanOrEqual(2);
      expect(approvedLengths).toEqual([...approvedLengths].sort((a, b) => a - b));
      const approved = await messages(tab);
      expect(approved.map((message) => message.role)).toEqual(['user', 'tool', 'tool', 'assistant']);
      expect(approved[2]!.text).toBe('kill_npc returned: The goblin chief is dead, gone from the story for good.');
      expect(approved[3]!.text).toContain('The goblin chief is dead, gone from the story for good. The caves fall silent');
      expect(approvedLengths.at(-1)).toBe(approved[3]!.text.length);
      expect((await read(`/chats/${chatId}`)).pending_approval).toBeNull();

      // Reject: the tool never runs, and the model is told so.
      await sendAndAwaitQuestion(tab, 'Kill the innkeeper!');
      const rejectedLengths = await decideAndWatch(tab, 'reject', 2);
      expect(rejectedLengths.length).toBeGreaterThanOrEqual(2);
      const rejected = await messages(tab);
      expect(rejected.slice(4).map((message) => message.role)).toEqual(['user', 'tool', 'tool', 'assistant']);
      expect(rejected[6]!.text).toBe('kill_npc returned: Tool execution was not approved.');
      expect(rejected[7]!.text).toContain('lower your blade: the innkeeper lives, for now.');

      // A reload while the run waits shows the question again, from the chat's pending_approval.
      await sendAndAwaitQuestion(tab, 'Slay the dragon!');
      await tab.reload();
      await tab.waitForSelector('body[data-state="awaiting_approval"]');
      expect(await tab.getByTestId('approval').textContent()).toContain('kill_npc({"name":"the dragon"})');
      // The decision goes to the agent the run started on (from its run record), whichever agent
      // the picker shows now.
      await tab.getByTestId('agent').selectOption('/world');
      await decideAndWatch(tab, 'approve', 3);
      const afterReload = await messages(tab);
      expect(afterReload.slice(8).map((message) => message.role)).toEqual(['user', 'tool', 'tool', 'assistant']);
      expect(afterReload[11]).toMatchObject({ meta: 'Campaign assistant' });
      expect(afterReload[11]!.text).toContain('The dragon is dead, gone from the story for good.');
      const runs = (await read(`/chats/${chatId}/runs`)).runs;
      expect(runs.map((run: { status: string; agent_name: string }) => `${run.agent_name} ${run.status}`)).toEqual([
        'Campaign assistant completed',
        'Campaign assistant completed',
        'Campaign assistant completed',
      ]);
    } finally {
      await tab.close();
    }
  }, 120_000);
});

/** Sends a message that makes the agent call a tool needing approval; waits for the buttons. */
async function sendAndAwaitQuestion(page: Page, text: string): Promise<void> {
  await page.getByTestId('input').fill(text);
  await page.getByTestId('send').click();
  await page.waitForSelector('body[data-state="awaiting_approval"]');
  await page.getByTestId('approve').waitFor();
  await page.getByTestId('reject').waitFor();
  // The answer waits, empty: the run has said nothing yet.
  expect(await page.locator('[data-testid="answer"] .text').textContent()).toBe('');
}

/**
 * Clicks Approve or Reject and waits until the page shows the stored history with
 * `assistantCount` answers. Returns the lengths the waiting answer's text had as the resumed run
 * streamed into it, seen by a MutationObserver on that very element.
 */
async function decideAndWatch(page: Page, button: 'approve' | 'reject', assistantCount: number): Promise<number[]> {
  await page.evaluate(() => {
    const answer = document.querySelector('[data-testid="answer"][data-streaming="waiting"]');
    const seen: number[] = [];
    window.streamedLengths = seen;
    window.streamObserver?.disconnect();
    window.streamObserver = new MutationObserver(() => {
      const length: number = answer.querySelector('.text').textContent.length;
      if (length > 0 && length !== seen.at(-1)) seen.push(length);
    });
    window.streamObserver.observe(answer, { childList: true, subtree: true, characterData: true });
  });
  await page.getByTestId(button).click();
  await page.waitForFunction(
    (count) =>
      document.body.dataset.state === 'idle' &&
      !document.querySelector('[data-streaming]') &&
      !document.querySelector('[data-testid="approval"]') &&
      document.querySelectorAll('[data-testid="message"][data-role="assistant"]').length === count,
    assistantCount,
  );
  expect(await page.locator('[data-role="error"]').allTextContents()).toEqual([]);
  return page.evaluate((): number[] => window.streamedLengths);
}

/**
 * Sends a message and waits until the page shows the stored history with `assistantCount`
 * answers. Returns the lengths the streaming answer had each time the page changed it, seen
 * from inside the page by a MutationObserver (so no polling interval can miss or merge them).
 */
async function sendAndWatch(page: Page, text: string, assistantCount: number): Promise<number[]> {
  await page.evaluate(() => {
    const seen: number[] = [];
    window.streamedLengths = seen;
    window.streamObserver?.disconnect();
    window.streamObserver = new MutationObserver(() => {
      const streaming = document.querySelector('[data-streaming="true"] .text');
      const length: number = streaming?.textContent?.length ?? 0;
      if (length > 0 && length !== seen.at(-1)) seen.push(length);
    });
    window.streamObserver.observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
  });
  await page.getByTestId('input').fill(text);
  await page.getByTestId('send').click();
  await page.waitForFunction(
    (count) =>
      document.body.dataset.state === 'idle' &&
      !document.querySelector('[data-streaming]') &&
      document.querySelectorAll('[data-testid="message"][data-role="assistant"]').length === count,
    assistantCount,
  );
  const errors = await page.locator('[data-role="error"]').allTextContents();
  expect(errors).toEqual([]);
  return page.evaluate((): number[] => window.streamedLengths);
}

async function messages(page: Page): Promise<{ role: string; meta: string; text: string }[]> {
  return page.locator('[data-testid="message"]').evaluateAll((elements: any[]) =>
    elements.map((element) => ({
      role: element.dataset.role ?? '',
      meta: element.querySelector('.meta')?.textContent ?? '',
      text: element.querySelector('.text')?.textContent ?? '',
    })),
  );
}

async function lastAssistant(page: Page) {
  return (await messages(page)).filter((message) => message.role === 'assistant').at(-1)!;
}
