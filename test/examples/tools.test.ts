// The tools example: an agent whose function tools keep a task list in the database, driven with
// the curl commands it prints, on pg-mem and on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { parseEvents } from '../helpers/agents.js';
import { databaseUrlFor, startExample, type ExampleProcess } from './example-process.js';
import { chatAfter, outputOf, printedSteps, readmeSteps, runPrintedSteps, type PrintedStep } from './printed-commands.js';
import { toolEvents } from './tool-events.js';

const SCRIPT = 'examples/tools/server.ts';

describe('[pg-mem] tools example', () => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample(SCRIPT);
  });
  afterAll(() => app?.stop());

  it('says at start-up which database and model it uses', () => {
    expect(app.startUpText).toMatch(/^ {2}database {3}pg-mem, an embedded in-memory database/m);
    expect(app.startUpText).toMatch(/^ {2}model {6}offline demo model/m);
  });

  it('prints the same curl commands as its README shows', () => {
    expect(printedSteps(app.startUpText)).toEqual(readmeSteps('examples/tools/README.md', app.url));
  });

  itRunsThePrintedCommands(() => app);
});

describePostgres('tools example', () => {
  let database: TestDatabase;
  let app: ExampleProcess;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { migrate: false });
    app = await startExample(SCRIPT, { DATABASE_URL: databaseUrlFor(database.schema!) });
  });
  afterAll(async () => {
    await app?.stop();
    await database?.destroy();
  });

  it('says at start-up that it runs on that PostgreSQL', () => {
    expect(app.startUpText).toMatch(/^ {2}database {3}PostgreSQL at postgres:\/\/.*search_path/m);
  });

  itRunsThePrintedCommands(() => app);

  it("keeps the tasks in the example's own table", async () => {
    const tasks = await database.db
      .selectFrom('example_tasks')
      .select(['user_id', 'number', 'title', 'done'])
      .orderBy('number')
      .execute();
    expect(tasks).toEqual([
      { user_id: 'alice', number: 1, title: 'buy milk', done: true },
      { user_id: 'alice', number: 2, title: 'call the plumber', done: false },
    ]);
  });
});

function itRunsThePrintedCommands(getApp: () => ExampleProcess) {
  it('answers the printed curl commands, with the tool calls in the /stream events', async () => {
    const app = getApp();
    const steps = await runPrintedSteps(app.startUpText);
    expect(steps).toHaveLength(6);
    const [create, addStreamed, addAnother, complete, listStreamed, history] = steps as [PrintedStep, ...PrintedStep[]];
    const chatId = chatAfter(create);
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);

    const added = toolEvents(parseEvents(outputOf(addStreamed!)));
    expect(added.called).toEqual({ name: 'add_task', arguments: '{"title":"buy milk"}', call_id: added.output.call_id });
    expect(added.output.output).toBe('Added task 1: buy milk. Open tasks: 1.');
    expect(added.completed.final_output).toBe('Added task 1: buy milk. Open tasks: 1. (Request 1 in this chat.)');

    expect(JSON.parse(outputOf(addAnother!))).toMatchObject({
      success: true,
      session_id: chatId,
      final_output: 'Added task 2: call the plumber. Open tasks: 2. (Request 2 in this chat.)',
    });
    expect(JSON.parse(outputOf(complete!)).final_output).toBe('Completed task 1: buy milk. (Request 3 in this chat.)');

    const listed = toolEvents(parseEvents(outputOf(listStreamed!)));
    expect(listed.called).toMatchObject({ name: 'list_tasks', arguments: '{}' });
    expect(listed.output.output).toBe('Tasks: 1. buy milk (done); 2. call the plumber (open).');

    const chat = JSON.parse(outputOf(history!));
    expect(chat.item_count).toBe(16);
    expect(chat.conversation.filter((line: { role: string }) => line.role === 'tool').map((line: { content: string }) => line.content)).toEqual([
      'Called add_task({"title":"buy milk"})',
      'add_task returned: Added task 1: buy milk. Open tasks: 1.',
      'Called add_task({"title":"call the plumber"})',
      'add_task returned: Added task 2: call the plumber. Open tasks: 2.',
      'Called complete_task({"number":1})',
      'complete_task returned: Completed task 1: buy milk.',
      'Called list_tasks({})',
      'list_tasks returned: Tasks: 1. buy milk (done); 2. call the plumber (open).',
    ]);

    // The tools work on the caller's own list: another user sees none of alice's tasks.
    const bob = await fetch(`${app.url}/tasks/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'bob' },
      body: JSON.stringify({ input: 'list' }),
    });
    expect(((await bob.json()) as { final_output: string }).final_output).toBe('The task list is empty. (Request 1 in this chat.)');
  }, 60_000);
}
