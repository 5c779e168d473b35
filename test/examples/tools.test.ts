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
    // Task 2 was deleted once approved; task 1's delete was rejected.
    expect(tasks).toEqual([{ user_id: 'alice', number: 1, title: 'buy milk', done: true }]);
  });

  it("never gives a deleted task's number to a new one, so a late approval cannot delete another task", async () => {
    const answer = await fetch(`${app.url}/tasks/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: JSON.stringify({ input: 'add water the plants' }),
    });
    expect(((await answer.json()) as { final_output: string }).final_output).toBe(
      'Added task 3: water the plants. Open tasks: 1. (Request 1 in this chat.)',
    );
  });
});

function itRunsThePrintedCommands(getApp: () => ExampleProcess) {
  it('answers the printed curl commands, with the tool calls in the /stream events and a delete that waits for approval', async () => {
    const app = getApp();
    // Alice's tasks as the agent lists them, asked on a chat of their own (the printed one is
    // waiting for approval at times, and then takes no new run).
    const aliceTasks = async () => {
      const answer = await fetch(`${app.url}/tasks/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify({ input: 'list' }),
      });
      return ((await answer.json()) as { final_output: string }).final_output.replace(/ \(Request 1 in this chat\.\)$/, '');
    };
    const both = 'Tasks: 1. buy milk (done); 2. call the plumber (open).';
    const tasksAfterStep: string[] = [];
    const steps = await runPrintedSteps(app.startUpText, {
      afterStep: async (_step, index) => {
        if (index >= 4) tasksAfterStep[index + 1] = await aliceTasks();
      },
    });
    expect(steps).toHaveLength(12);
    const [create, addStreamed, addAnother, complete, listStreamed, askDelete, pending, approve, askAgain, reject, list, history] =
      steps as [PrintedStep, ...PrintedStep[]];
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
    expect(listed.output.output).toBe(both);

    // 6. The delete waits: no answer yet, the call to decide on, and task 2 still there.
    const waiting = JSON.parse(outputOf(askDelete!));
    expect(waiting).toEqual({
      success: true,
      status: 'awaiting_approval',
      final_output: null,
      session_id: chatId,
      run_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      agent_name: 'Task keeper',
      usage: expect.any(Object),
      approvals: [{ call_id: expect.stringMatching(/^call_/), tool_name: 'delete_task', arguments: '{"number":2}', agent_name: 'Task keeper' }],
    });
    expect(tasksAfterStep[6]).toBe(both);
    // 7. The chat says the same, for a client that reloads.
    expect(JSON.parse(outputOf(pending!))).toEqual({ run_id: waiting.run_id, prefix: '/tasks', approvals: waiting.approvals });
    expect(tasksAfterStep[7]).toBe(both);
    // 8. Approved: the same run goes on, and only now is the task deleted.
    expect(JSON.parse(outputOf(approve!))).toMatchObject({
      success: true,
      status: 'completed',
      run_id: waiting.run_id,
      session_id: chatId,
      final_output: 'Deleted task 2: call the plumber. (Request 5 in this chat.)',
    });
    expect(tasksAfterStep[8]).toBe('Tasks: 1. buy milk (done).');

    // 9. and 10. Another delete, rejected with a message: the model gets the message, the tool never runs.
    const waitingAgain = JSON.parse(outputOf(askAgain!));
    expect(waitingAgain).toMatchObject({ status: 'awaiting_approval', approvals: [{ tool_name: 'delete_task', arguments: '{"number":1}' }] });
    expect(waitingAgain.run_id).not.toBe(waiting.run_id);
    expect(JSON.parse(outputOf(reject!))).toMatchObject({
      status: 'completed',
      run_id: waitingAgain.run_id,
      final_output: 'The user said no: keep task 1. (Request 6 in this chat.)',
    });
    expect(tasksAfterStep[10]).toBe('Tasks: 1. buy milk (done).');
    expect(JSON.parse(outputOf(list!)).final_output).toBe('Tasks: 1. buy milk (done). (Request 7 in this chat.)');

    const chat = JSON.parse(outputOf(history!));
    expect(chat.item_count).toBe(28);
    expect(chat.pending_approval).toBeNull();
    expect(chat.conversation.filter((line: { role: string }) => line.role === 'tool').map((line: { content: string }) => line.content)).toEqual([
      'Called add_task({"title":"buy milk"})',
      'add_task returned: Added task 1: buy milk. Open tasks: 1.',
      'Called add_task({"title":"call the plumber"})',
      'add_task returned: Added task 2: call the plumber. Open tasks: 2.',
      'Called complete_task({"number":1})',
      'complete_task returned: Completed task 1: buy milk.',
      'Called list_tasks({})',
      `list_tasks returned: ${both}`,
      'Called delete_task({"number":2})',
      'delete_task returned: Deleted task 2: call the plumber.',
      'Called delete_task({"number":1})',
      'delete_task returned: The user said no: keep task 1.',
      'Called list_tasks({})',
      'list_tasks returned: Tasks: 1. buy milk (done).',
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
