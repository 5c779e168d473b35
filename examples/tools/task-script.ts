// What the task agent does on the offline demo model (no OPENAI_API_KEY): plain commands map to
// tool calls, "add buy milk" to add_task, "list" to list_tasks, "complete 1" to complete_task,
// "delete task 2" (or "delete 2") to delete_task, and once the tool has answered, the reply passes
// its result on. A delete the user rejected answers with the rejection's message instead.
import { firstWords, type DemoScript } from '../shared/demo-model.js';

export const taskScript: DemoScript = (chat) => {
  const asked = chat.userMessages.length;
  const result = chat.toolResults.at(-1);
  if (result) {
    return { type: 'text', text: `${result.output} (Request ${asked} in this chat.)` };
  }
  const add = /^\s*(?:add|new|todo)\s+(.+?)\s*$/i.exec(chat.latest);
  if (add) return { type: 'tool', name: 'add_task', arguments: { title: add[1] } };
  const complete = /\b(?:complete|done|finish|tick)\s+(?:task\s+)?#?(\d+)/i.exec(chat.latest);
  if (complete) return { type: 'tool', name: 'complete_task', arguments: { number: Number(complete[1]) } };
  const remove = /\b(?:delete|remove|drop)\s+(?:task\s+)?#?(\d+)/i.exec(chat.latest);
  if (remove) return { type: 'tool', name: 'delete_task', arguments: { number: Number(remove[1]) } };
  if (/^\s*(?:list|show|tasks)\b/i.test(chat.latest)) return { type: 'tool', name: 'list_tasks', arguments: {} };
  const earlier = chat.userMessages.slice(0, -1).map((message) => `"${firstWords(message, 6)}"`);
  return {
    type: 'text',
    text:
      'I keep your task list. Try "add buy milk", "list", "complete 1" or "delete task 1".' +
      (earlier.length > 0 ? ` So far in this chat you asked: ${earlier.join(', ')}.` : ''),
  };
};
