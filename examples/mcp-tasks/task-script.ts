// What the agent does on the offline demo model (no OPENAI_API_KEY): the tools example's script
// (add, list, complete), plus "delete 2" for delete_task. The tool names are the same, whether the
// tools run in this process or, as here, in the task server.
import type { DemoScript } from '../shared/demo-model.js';
import { taskScript } from '../tools/task-script.js';

export const mcpTaskScript: DemoScript = (chat) => {
  const remove = /\b(?:delete|remove|drop)\s+(?:task\s+)?#?(\d+)/i.exec(chat.latest);
  if (remove && chat.toolResults.length === 0) {
    return { type: 'tool', name: 'delete_task', arguments: { number: Number(remove[1]) } };
  }
  return taskScript(chat);
};
