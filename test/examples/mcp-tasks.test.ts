// The MCP example: an agent whose tools live in a separate MCP server process, driven with the
// curl commands it prints, on pg-mem and on real PostgreSQL; and its task server on its own.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MCPServerStdio } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ID_META } from '../../examples/mcp-tasks/user-meta.js';
import { parseEvents } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { databaseUrlFor, startExample, type ExampleProcess } from './example-process.js';
import { chatAfter, outputOf, printedSteps, readmeSteps, runPrintedSteps, type PrintedStep } from './printed-commands.js';
import { toolEvents } from './tool-events.js';

const SCRIPT = 'examples/mcp-tasks/server.ts';
const TASK_SERVER = fileURLToPath(new URL('../../examples/mcp-tasks/task-server.ts', import.meta.url));
const alice = { 'content-type': 'application/json', 'x-user-id': 'alice' };

describe('[pg-mem] MCP example', () => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample(SCRIPT);
  });
  afterAll(() => app?.stop());

  it('says at start-up which database, model and MCP server it uses', () => {
    expect(app.startUpText).toMatch(/^ {2}database {5}pg-mem, an embedded in-memory database/m);
    expect(app.startUpText).toMatch(/^ {2}model {8}offline demo model/m);
    expect(app.startUpText).toMatch(
      /^ {2}mcp server {3}tasks, a child process \(task-server\.ts\) with the tools add_task, list_tasks, complete_task, delete_task$/m,
    );
  });

  it('prints the same curl commands as its README shows', () => {
    expect(printedSteps(app.startUpText)).toEqual(readmeSteps('examples/mcp-tasks/README.md', app.url));
  });

  itRunsThePrintedCommands(() => app);
});

describePostgres('MCP example', () => {
  let database: TestDatabase;
  let app: ExampleProcess;
  let chatId: string;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { migrate: false });
    app = await startExample(SCRIPT, { DATABASE_URL: databaseUrlFor(database.schema!) });
  });
  afterAll(async () => {
    await app?.stop();
    await database?.destroy();
  });

  it('says at start-up that it runs on that PostgreSQL', () => {
    expect(app.startUpText).toMatch(/^ {2}database {5}PostgreSQL at postgres:\/\/.*search_path/m);
  });

  itRunsThePrintedCommands(() => app, (id) => (chatId = id));

  it("stores the task server's answers in the chat's items, each with its call", async () => {
    const rows = await database.db
      .selectFrom('agent_items')
      .select(['item'])
      .where('session_id', '=', chatId)
      .orderBy('position')
      .execute();
    const items = rows.map((row) => (typeof row.item === 'string' ? JSON.parse(row.item) : row.item));
    const calls = items.filter((item) => item.type === 'function_call');
    const results = items.filter((item) => item.type === 'function_call_result');
    expect(calls.map((item) => [item.name, item.arguments])).toEqual([
      ['add_task', '{"title":"buy milk"}'],
      ['add_task', '{"title":"call the plumber"}'],
      ['complete_task', '{"number":1}'],
      ['delete_task', '{"number":2}'],
      ['list_tasks', '{}'],
    ]);
    expect(results.map((item) => item.callId)).toEqual(calls.map((item) => item.callId));
    expect(results.map((item) => textOf(item.output))).toEqual([
      'Added task 1: buy milk. Open tasks: 1.',
      'Added task 2: call the plumber. Open tasks: 2.',
      'Completed task 1: buy milk.',
      'Deleted task 2: call the plumber.',
      'Tasks: 1. buy milk (done).',
    ]);
  });

  // Last: it kills the example's task server.
  it('reports the task server as unavailable once its process is gone, and keeps serving the rest', async () => {
    const child = taskServerProcess(app.pid);
    process.kill(child, 'SIGKILL');
    await exited(child);

    const info = await fetch(`${app.url}/tasks/info`, { headers: alice });
    expect(info.status).toBe(200);
    expect(((await info.json()) as { mcp_servers: unknown }).mcp_servers).toEqual([
      { name: 'tasks', tools: [], error: expect.stringMatching(/^unavailable: /) },
    ]);
    // A run needs the server's tools: it fails, and stores nothing in the chat.
    const run = await fetch(`${app.url}/tasks/run`, {
      method: 'POST',
      headers: alice,
      body: JSON.stringify({ session_id: chatId, input: 'list' }),
    });
    expect(run.status).toBe(500);
    const chat = await fetch(`${app.url}/chats/${chatId}`, { headers: alice });
    expect(((await chat.json()) as { item_count: number }).item_count).toBe(20);
  });
});

describe('MCP example task server, on its own', () => {
  const tasks = new MCPServerStdio({
    name: 'tasks',
    command: process.execPath,
    args: ['--import', 'tsx', TASK_SERVER],
    clientSessionTimeoutSeconds: 30,
  });
  beforeAll(() => tasks.connect());
  afterAll(() => tasks.close());
  const as = (userId: string) => ({ [USER_ID_META]: userId });
  const call = async (tool: string, args: Record<string, unknown>, meta?: Record<string, unknown>) => {
    const result = await tasks.callToolResult(tool, args, meta);
    return { isError: result.isError ?? false, text: textOf(result.content) };
  };

  it('keeps one list per user named in _meta, whatever the arguments say', async () => {
    expect(await call('add_task', { title: 'water the plants' }, as('carol'))).toEqual({
      isError: false,
      text: 'Added task 1: water the plants. Open tasks: 1.',
    });
    // Another user, even one whose arguments name carol, sees and changes only their own list.
    expect(await call('list_tasks', { user_id: 'carol' }, as('dave'))).toEqual({ isError: false, text: 'The task list is empty.' });
    expect(await call('delete_task', { number: 1, user_id: 'carol' }, as('dave'))).toEqual({
      isError: false,
      text: 'There is no task 1.',
    });
    expect(await call('list_tasks', {}, as('carol'))).toEqual({ isError: false, text: 'Tasks: 1. water the plants (open).' });
  });

  it('refuses a call that names no user', async () => {
    for (const meta of [undefined, {}, { [USER_ID_META]: '' }, { user_id: 'carol' }]) {
      expect(await call('list_tasks', {}, meta)).toEqual({
        isError: true,
        text: `No user: the call carries no ${USER_ID_META} in its _meta.`,
      });
    }
  });

  it('never gives a deleted task’s number to a new one', async () => {
    await call('add_task', { title: 'first' }, as('erin'));
    await call('add_task', { title: 'second' }, as('erin'));
    expect((await call('delete_task', { number: 2 }, as('erin'))).text).toBe('Deleted task 2: second.');
    expect((await call('add_task', { title: 'third' }, as('erin'))).text).toBe('Added task 3: third. Open tasks: 2.');
    expect((await call('complete_task', { number: 2 }, as('erin'))).text).toBe('There is no task 2.');
  });
});

/** Alice's tasks as the agent lists them, asked on a chat of their own. */
async function aliceTasks(app: ExampleProcess): Promise<string> {
  const answer = await fetch(`${app.url}/tasks/run`, { method: 'POST', headers: alice, body: JSON.stringify({ input: 'list' }) });
  return ((await answer.json()) as { final_output: string }).final_output.replace(/ \(Request 1 in this chat\.\)$/, '');
}

function itRunsThePrintedCommands(getApp: () => ExampleProcess, onChat: (chatId: string) => void = () => {}) {
  it('answers the printed curl commands, with the tool calls crossing into the task server and a delete that waits for approval', async () => {
    const app = getApp();
    // What the task server holds after each step, from step 5 on.
    const tasksAfterStep: string[] = [];
    const steps = await runPrintedSteps(app.startUpText, {
      afterStep: async (_step, index) => {
        if (index >= 4) tasksAfterStep[index + 1] = await aliceTasks(app);
      },
    });
    expect(steps).toHaveLength(9);
    const [create, info, addStreamed, addAnother, complete, askDelete, approve, list, history] = steps as [PrintedStep, ...PrintedStep[]];
    const chatId = chatAfter(create);
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);
    onChat(chatId);

    // The server's delete_task is hidden from the model: the app's own tool stands in for it.
    expect(JSON.parse(outputOf(info!))).toMatchObject({
      name: 'Task keeper',
      tools_count: 1,
      mcp_servers: [{ name: 'tasks', tools: ['add_task', 'list_tasks', 'complete_task'] }],
    });

    const added = toolEvents(parseEvents(outputOf(addStreamed!)));
    expect(added.called).toEqual({ name: 'add_task', arguments: '{"title":"buy milk"}', call_id: added.output.call_id });
    expect(textOf(JSON.parse(added.output.output))).toBe('Added task 1: buy milk. Open tasks: 1.');
    expect(added.completed.final_output).toBe('Added task 1: buy milk. Open tasks: 1. (Request 1 in this chat.)');

    const answerOf = (step: PrintedStep | undefined) => {
      const answer = JSON.parse(outputOf(step!));
      expect(answer).toMatchObject({ success: true, session_id: chatId });
      return answer;
    };
    expect(answerOf(addAnother).final_output).toBe('Added task 2: call the plumber. Open tasks: 2. (Request 2 in this chat.)');
    expect(answerOf(complete).final_output).toBe('Completed task 1: buy milk. (Request 3 in this chat.)');
    const both = 'Tasks: 1. buy milk (done); 2. call the plumber (open).';
    expect(tasksAfterStep[5]).toBe(both);

    // 6. The delete waits: nothing reached the task server yet.
    const waiting = answerOf(askDelete);
    expect(waiting).toMatchObject({
      status: 'awaiting_approval',
      final_output: null,
      approvals: [{ call_id: expect.stringMatching(/^call_/), tool_name: 'delete_task', arguments: '{"number":2}', agent_name: 'Task keeper' }],
    });
    expect(tasksAfterStep[6]).toBe(both);
    // 7. Approved: the same run goes on, and the call crosses into the task server.
    expect(answerOf(approve)).toMatchObject({
      status: 'completed',
      run_id: waiting.run_id,
      final_output: 'Deleted task 2: call the plumber. (Request 4 in this chat.)',
    });
    expect(tasksAfterStep[7]).toBe('Tasks: 1. buy milk (done).');
    expect(answerOf(list).final_output).toBe('Tasks: 1. buy milk (done). (Request 5 in this chat.)');

    const chat = JSON.parse(outputOf(history!));
    expect(chat.item_count).toBe(20);
    expect(chat.conversation.filter((line: { role: string }) => line.role === 'tool').map((line: { content: string }) => line.content)).toEqual([
      'Called add_task({"title":"buy milk"})',
      'add_task returned: Added task 1: buy milk. Open tasks: 1.',
      'Called add_task({"title":"call the plumber"})',
      'add_task returned: Added task 2: call the plumber. Open tasks: 2.',
      'Called complete_task({"number":1})',
      'complete_task returned: Completed task 1: buy milk.',
      'Called delete_task({"number":2})',
      'delete_task returned: Deleted task 2: call the plumber.',
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

  it('sends a rejected delete nowhere: the task stays, and the model gets the rejection’s message', async () => {
    const app = getApp();
    const post = async (path: string, body: unknown) => {
      const answer = await fetch(`${app.url}${path}`, { method: 'POST', headers: alice, body: JSON.stringify(body) });
      return (await answer.json()) as any;
    };
    const before = await aliceTasks(app);
    expect(before).toContain('1. buy milk');
    const waiting = await post('/tasks/run', { input: 'delete 1' });
    expect(waiting).toMatchObject({ status: 'awaiting_approval', approvals: [{ tool_name: 'delete_task', arguments: '{"number":1}' }] });
    const rejected = await post(`/tasks/runs/${waiting.run_id}/approvals`, {
      decisions: [{ call_id: waiting.approvals[0].call_id, approved: false, message: 'The user said no: keep it.' }],
    });
    expect(rejected).toMatchObject({ status: 'completed', final_output: 'The user said no: keep it. (Request 1 in this chat.)' });
    expect(await aliceTasks(app)).toBe(before);
    // Decided once: the same decision again runs nothing.
    const again = await fetch(`${app.url}/tasks/runs/${waiting.run_id}/approvals`, {
      method: 'POST',
      headers: alice,
      body: JSON.stringify({ decisions: [{ call_id: waiting.approvals[0].call_id, approved: true }] }),
    });
    expect(again.status).toBe(409);
    expect(await aliceTasks(app)).toBe(before);
  }, 60_000);
}

/** The text of a tool output or MCP content: a string, a text part, or a list of them. */
function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map(textOf).join('');
  return (output as { text?: string } | null)?.text ?? '';
}

/** The pid of the example's task server: its child process running task-server.ts. */
function taskServerProcess(examplePid: number): number {
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(examplePid)], { encoding: 'utf8' });
  const line = children.split('\n').find((each) => each.includes('task-server.ts'));
  if (!line) throw new Error(`No task server among the example's child processes:\n${children}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Resolves once the process is gone (and reaped by its parent, the example). */
async function exited(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`process ${pid} is still there after 10 s`);
}
