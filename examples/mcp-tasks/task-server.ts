// The task server: a small MCP server, written with @modelcontextprotocol/sdk, that keeps each
// user's task list (add, list, complete, delete). The app (server.ts) starts it as a child process
// and speaks MCP with it over stdin and stdout, through the Agents SDK's MCPServerStdio.
//
// Whose list a call works on comes from the request's `_meta` (user-meta.ts), which only the app
// writes. That is safe here because the pipe is the server's only channel: nobody but the app that
// started it can send it a request. A server others can reach (over HTTP) must authenticate its
// caller instead (docs/mcp.md).
//
//   node --import tsx examples/mcp-tasks/task-server.ts     (speaks MCP on stdio; the app runs it)
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { TaskBook, type Task } from './task-book.js';
import { USER_ID_META } from './user-meta.js';

const book = new TaskBook();
const server = new McpServer({ name: 'tasks', version: '1.0.0' });

/** Runs a tool for the user named in `_meta`, or refuses the call when there is none. */
function forUser(meta: Record<string, unknown> | undefined, work: (userId: string) => string): CallToolResult {
  const userId = meta?.[USER_ID_META];
  if (typeof userId !== 'string' || userId === '') {
    return { isError: true, content: [{ type: 'text', text: `No user: the call carries no ${USER_ID_META} in its _meta.` }] };
  }
  return { content: [{ type: 'text', text: work(userId) }] };
}

const taskNumber = z.number().int().min(1).describe('The task number, as list_tasks shows it.');

server.registerTool(
  'add_task',
  {
    description: "Adds a task to the user's task list.",
    inputSchema: { title: z.string().trim().min(1).max(200).describe('What to do, e.g. "buy milk".') },
  },
  ({ title }, { _meta }) =>
    forUser(_meta, (userId) => {
      const task = book.add(userId, title);
      const open = book.list(userId).filter((each) => !each.done).length;
      return `Added task ${task.number}: ${task.title}. Open tasks: ${open}.`;
    }),
);

server.registerTool(
  'list_tasks',
  { description: "Lists the user's tasks with their numbers, done or not.", inputSchema: {} },
  (_args, { _meta }) =>
    forUser(_meta, (userId) => {
      const tasks = book.list(userId);
      return tasks.length === 0 ? 'The task list is empty.' : `Tasks: ${tasks.map(describeTask).join('; ')}.`;
    }),
);

server.registerTool(
  'complete_task',
  { description: "Marks one of the user's tasks as done, by its number.", inputSchema: { number: taskNumber } },
  ({ number }, { _meta }) =>
    forUser(_meta, (userId) => {
      const task = book.complete(userId, number);
      if (!task) return `There is no task ${number}.`;
      if (task.done) return `Task ${number} (${task.title}) was already done.`;
      return `Completed task ${number}: ${task.title}.`;
    }),
);

server.registerTool(
  'delete_task',
  {
    description: "Removes one of the user's tasks from the list, by its number.",
    inputSchema: { number: taskNumber },
    annotations: { destructiveHint: true },
  },
  ({ number }, { _meta }) =>
    forUser(_meta, (userId) => {
      const task = book.delete(userId, number);
      return task ? `Deleted task ${number}: ${task.title}.` : `There is no task ${number}.`;
    }),
);

function describeTask(task: Task): string {
  return `${task.number}. ${task.title} (${task.done ? 'done' : 'open'})`;
}

// stdout carries the protocol: anything else this process has to say goes to stderr.
await server.connect(new StdioServerTransport());
