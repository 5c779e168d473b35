// delete_task, as the model sees it: a function tool of the app that forwards the call to the task
// server. Why not the server's own tool directly? In @openai/agents 0.20 the tools of an MCP server
// cannot ask for approval (MCPServerStdio has no such option), and a function tool can
// (`needsApproval`). The server's delete_task is hidden from the model (`toolFilter` in server.ts),
// so this tool is the only way to delete a task, and every delete waits for the user's approval.
import { tool, type MCPServer, type RunContext } from '@openai/agents';
import { z } from 'zod';
import type { TaskContext } from '../tools/task-tools.js';
import { userMeta } from './user-meta.js';

export function createDeleteTaskTool(tasks: MCPServer) {
  return tool({
    name: 'delete_task',
    description: "Removes one of the user's tasks from the list, by its number.",
    parameters: z.object({ number: z.number().int().min(1).describe('The task number, as list_tasks shows it.') }),
    // APPROVAL: the run waits (recorded as awaiting_approval) until the user decides with
    // POST /tasks/runs/:run_id/approvals; approved, the call goes on to the task server, rejected,
    // it never leaves the app and the model gets the rejection's message instead.
    needsApproval: true,
    execute: async ({ number }, context?: RunContext<TaskContext>) => {
      // The same `_meta` as the server's other tools get from toolMetaResolver (server.ts).
      const content = await tasks.callTool('delete_task', { number }, userMeta(context?.context.userId));
      return content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
    },
  });
}
