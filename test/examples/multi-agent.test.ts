// The multi-agent example, started as `npm run example` starts it, then driven with the curl
// commands it prints: on the embedded pg-mem database and on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { parseEvents } from '../helpers/agents.js';
import { databaseUrlFor, startExample, type ExampleProcess } from './example-process.js';
import { chatAfter, outputOf, printedSteps, readmeSteps, runPrintedSteps, type PrintedStep } from './printed-commands.js';

const SCRIPT = 'examples/multi-agent/server.ts';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('[pg-mem] multi-agent example', () => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample(SCRIPT);
  });
  afterAll(() => app?.stop());

  it('says at start-up that it runs on pg-mem with the offline demo model', () => {
    expect(app.startUpText).toMatch(/^ {2}database {3}pg-mem, an embedded in-memory database/m);
    expect(app.startUpText).toMatch(/^ {2}model {6}offline demo model/m);
    expect(app.startUpText).toContain(`chat page  ${app.url}/`);
  });

  it('serves the chat page and tells it which agents there are', async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('multi-agent chat');
    const { agents } = (await (await fetch(`${app.url}/agents`)).json()) as { agents: { prefix: string }[] };
    expect(agents.map((agent) => agent.prefix)).toEqual(['/campaign', '/characters', '/world']);
  });

  it('needs the x-user-id header (the demo stand-in for authentication)', async () => {
    const answer = await fetch(`${app.url}/world/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Hello?' }),
    });
    expect(answer.status).toBe(401);
  });

  it('prints the same curl commands as its README shows', () => {
    expect(printedSteps(app.startUpText)).toEqual(readmeSteps('examples/multi-agent/README.md', app.url));
    expect(printedSteps(app.startUpText)).toEqual(readmeSteps('README.md', app.url));
  });

  itRunsThePrintedCommands(() => app);

  it("waits for the player's approval before the campaign assistant kills anyone, and resumes on its prefix only", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'erin' }, body: JSON.stringify(body) });
    const waiting = (await (await post('/campaign/run', { input: 'Kill the goblin chief!' })).json()) as any;
    expect(waiting).toMatchObject({
      status: 'awaiting_approval',
      agent_name: 'Campaign assistant',
      approvals: [{ tool_name: 'kill_npc', arguments: '{"name":"the goblin chief"}', agent_name: 'Campaign assistant' }],
    });
    const decisions = [{ call_id: waiting.approvals[0].call_id, approved: true }];
    // Decided on the prefix of the agent the run started on; another agent's prefix does not know it.
    expect((await post(`/world/runs/${waiting.run_id}/approvals`, { decisions, stream: true })).status).toBe(404);
    const resumed = await post(`/campaign/runs/${waiting.run_id}/approvals`, { decisions, stream: true });
    expect(resumed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseEvents(await resumed.text());
    expect(events.map((event) => event.event).filter((name) => name !== 'text.delta')).toEqual(['run.resumed', 'tool.output', 'run.completed']);
    expect(events[1]!.data.output).toBe('The goblin chief is dead, gone from the story for good.');
    expect(events.at(-1)!.data.final_output).toContain('The caves fall silent around you. What do you do?');
  });
});

describe('[pg-mem] multi-agent example with OPENAI_API_KEY set', () => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample(SCRIPT, {
      OPENAI_API_KEY: 'sk-test-never-sent',
      OPENAI_MODEL: 'gpt-4.1-mini',
      // No request is made here; should one ever be, it goes to a closed local port, not OpenAI.
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
  });
  afterAll(() => app?.stop());

  it('says it uses that OpenAI model, and gives it to every agent', async () => {
    expect(app.startUpText).toMatch(/^ {2}model {6}OpenAI gpt-4\.1-mini/m);
    for (const prefix of ['/campaign', '/characters', '/world']) {
      const info = (await (await fetch(`${app.url}${prefix}/info`, { headers: { 'x-user-id': 'alice' } })).json()) as {
        model: string;
      };
      expect(info.model).toBe('gpt-4.1-mini');
    }
  });
});

describePostgres('multi-agent example', () => {
  let database: TestDatabase;
  let app: ExampleProcess;
  beforeAll(async () => {
    // A fresh schema of its own; the example migrates it at start-up.
    database = await createTestDatabase('postgres', { migrate: false });
    app = await startExample(SCRIPT, { DATABASE_URL: databaseUrlFor(database.schema!) });
  });
  afterAll(async () => {
    await app?.stop();
    await database?.destroy();
  });

  it('says at start-up that it runs on that PostgreSQL with the offline demo model', () => {
    expect(app.startUpText).toMatch(/^ {2}database {3}PostgreSQL at postgres:\/\//m);
    expect(app.startUpText).toContain(database.schema!);
    expect(app.startUpText).toMatch(/^ {2}model {6}offline demo model/m);
  });

  itRunsThePrintedCommands(() => app);

  it('kept the chat in PostgreSQL, where another process can read it', async () => {
    const chats = await database.db.selectFrom('agent_chats').select(['user_id', 'title', 'item_count']).execute();
    // The printed commands ended by clearing the history: the chat stays, empty.
    // The printed commands cleared the first chat's history (the chat stays, empty), then started a second.
    expect(chats.sort((a, b) => a.item_count - b.item_count)).toEqual([
      { user_id: 'alice', title: 'Goblin caves', item_count: 0 },
      { user_id: 'alice', title: 'Back to the caves', item_count: 2 },
    ]);
    const runs = await database.db.selectFrom('agent_runs').select(['agent_name', 'status']).orderBy('started_at').execute();
    expect(runs).toEqual([
      { agent_name: 'Character creator', status: 'completed' },
      { agent_name: 'World builder', status: 'completed' },
      { agent_name: 'Campaign assistant', status: 'completed' },
      { agent_name: 'World builder', status: 'completed' },
    ]);
    // The memory outlived the cleared history: full-text search found it for the new chat.
    const memories = await database.db.selectFrom('agent_memories').select(['user_id', 'content', 'agent_name']).execute();
    expect(memories).toEqual([{ user_id: 'alice', content: "The user's hero is a dwarf fighter named Brom.", agent_name: 'Character creator' }]);
  });
});

function itRunsThePrintedCommands(getApp: () => ExampleProcess) {
  it('answers the printed curl commands as they promise', async () => {
    const app = getApp();
    const steps = await runPrintedSteps(app.startUpText);
    expect(steps.map((step) => step.title.split(' ')[0])).toEqual(['1.', '2.', '3.', '4.', '5.', '6.', '7.', '8.']);
    for (const step of steps) expect(step.command).toContain(app.url);
    const [create, character, world, stream, history, clear, newChat, remembered] = steps as [PrintedStep, ...PrintedStep[]];

    // 1. A chat, its id kept in $CHAT.
    const chatId = chatAfter(create);
    expect(chatId).toMatch(UUID);

    // 2. The character creator.
    const first = JSON.parse(outputOf(character!));
    expect(first).toMatchObject({ success: true, session_id: chatId, agent_name: 'Character creator' });
    expect(first.final_output).toContain('Character sheet for Brom, dwarf fighter');

    // 3. Another agent, which was sent what the first one was told, and what it answered.
    const second = JSON.parse(outputOf(world!));
    expect(second).toMatchObject({ success: true, session_id: chatId, agent_name: 'World builder' });
    expect(second.final_output).toContain('turn 2 of this chat');
    expect(second.final_output).toContain('You told me earlier: "My hero is a dwarf fighter named Brom."');
    expect(second.final_output).toContain('The character creator answered last: "Character sheet for Brom');
    expect(second.final_output).toMatch(/Brom comes from \w+/);

    // 4. A streamed reply, with the tool call and its output before the text.
    const events = parseEvents(outputOf(stream!));
    const names = events.map((event) => event.event);
    expect(names[0]).toBe('run.started');
    expect(names.at(-1)).toBe('run.completed');
    const called = events.find((event) => event.event === 'tool.called')!;
    const output = events.find((event) => event.event === 'tool.output')!;
    expect(called.data).toMatchObject({ name: 'roll_dice', arguments: '{"notation":"1d20"}' });
    expect(output.data.call_id).toBe(called.data.call_id);
    expect(output.data.output).toMatch(/^Rolled 1d20: \d+$/);
    const deltas = events.filter((event) => event.event === 'text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(names.indexOf('tool.output')).toBeLessThan(names.indexOf('text.delta'));
    const completed = events.at(-1)!.data;
    expect(deltas.map((event) => event.data.delta).join('')).toBe(completed.final_output);
    expect(completed).toMatchObject({ session_id: chatId, agent_name: 'Campaign assistant' });
    expect(completed.final_output).toContain('The world builder answered last: "Brom comes from');
    expect(completed.final_output).toContain(output.data.output);

    // 5. The history: one conversation, every agent's turns.
    const chat = JSON.parse(outputOf(history!));
    expect(chat).toMatchObject({ chat_id: chatId, title: 'Goblin caves', item_count: 10, last_agent_name: 'Campaign assistant' });
    expect(chat.conversation.map((line: { role: string; agent_name: string }) => `${line.role} ${line.agent_name}`)).toEqual([
      'user Character creator',
      // The character creator remembered the hero (the remember tool), for later chats.
      'tool Character creator',
      'tool Character creator',
      'assistant Character creator',
      'user World builder',
      'assistant World builder',
      'user Campaign assistant',
      'tool Campaign assistant',
      'tool Campaign assistant',
      'assistant Campaign assistant',
    ]);
    expect(chat.conversation[1].content).toBe(
      `Called remember(${JSON.stringify({ content: "The user's hero is a dwarf fighter named Brom.", importance: 0.9 })})`,
    );
    expect(chat.conversation[7].content).toBe('Called roll_dice({"notation":"1d20"})');

    // 6. Cleared: the chat stays, with no items.
    expect(JSON.parse(outputOf(clear!))).toMatchObject({ chat_id: chatId, title: 'Goblin caves', item_count: 0 });
    const after = (await (await fetch(`${app.url}/chats/${chatId}`, { headers: { 'x-user-id': 'alice' } })).json()) as {
      conversation: unknown[];
    };
    expect(after.conversation).toEqual([]);

    // 7. A new chat, whose history knows nothing: the world builder still knows Brom, from memory.
    const secondChat = chatAfter(newChat!);
    expect(secondChat).toMatch(UUID);
    expect(secondChat).not.toBe(chatId);
    const recalled = JSON.parse(outputOf(newChat!));
    expect(recalled).toMatchObject({ success: true, session_id: secondChat, agent_name: 'World builder' });
    expect(recalled.final_output).toContain('turn 1 of this chat');
    expect(recalled.final_output).toContain('I remember from an earlier chat: "The user\'s hero is a dwarf fighter named Brom."');
    // The same home town as in the first chat: the same hero.
    const town = / comes from (\w+)/.exec(second.final_output)![1];
    expect(recalled.final_output).toContain(`Brom comes from ${town}`);

    // 8. What is remembered about alice.
    const { memories } = JSON.parse(outputOf(remembered!));
    expect(memories).toEqual([
      expect.objectContaining({
        content: "The user's hero is a dwarf fighter named Brom.",
        importance: 0.9,
        agent_name: 'Character creator',
        chat_id: chatId,
        last_used_at: expect.any(String),
      }),
    ]);
  }, 60_000);
}
