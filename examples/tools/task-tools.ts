// The agent's function tools. Each tool reads the caller from the run context, which the router
// builds per request (see `context` in server.ts), so one user's agent never sees another's tasks.
// delete_task needs the user's approval before it runs.
import { tool, type RunContext } from '@openai/agents';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { TaskList, type Task } from './task-list.js';

/** What the router hands the tools for each request. */
export interface TaskContext {
  userId: string;
}

export function createTaskTools(db: Kysely<any>) {
  const tasksOf = (context: RunContext<TaskContext> | undefined) => {
    const userId = context?.context.userId;
    if (!userId) throw new Error('The task tools need the user id in the run context.');
    return new TaskList(db, userId);
  };

  const addTask = tool({
    name: 'add_task',
    description: "Adds a task to the user's task list.",
    parameters: z.object({ title: z.string().min(1).max(200).describe('What to do, e.g. "buy milk".') }),
    execute: async ({ title }, context?: RunContext<TaskContext>) => {
      const tasks = tasksOf(context);
      const task = await tasks.add(title.trim());
      const open = (await tasks.list()).filter((each) => !each.done).length;
      return `Added task ${task.number}: ${task.title}. Open tasks: ${open}.`;
    },
  });

  const listTasks = tool({
    name: 'list_tasks',
    description: "Lists the user's tasks with their numbers, done or not.",
    parameters: z.object({}),
    execute: async (_args, context?: RunContext<TaskContext>) => {
      const tasks = await tasksOf(context).list();
      if (tasks.length === 0) return 'The task list is empty.';
      return `Tasks: ${tasks.map(describeTask).join('; ')}.`;
    },
  });

  const completeTask = tool({
    name: 'complete_task',
    description: 'Marks one of the user\'s tasks as done, by its number.',
    parameters: z.object({ number: z.number().int().min(1).describe('The task number, as list_tasks shows it.') }),
    execute: async ({ number }, context?: RunContext<TaskContext>) => {
      const task = await tasksOf(context).complete(number);
      if (!task) return `There is no task ${number}.`;
      if (task.done) return `Task ${number} (${task.title}) was already done.`;
      return `Completed task ${number}: ${task.title}.`;
    },
  });

  const deleteTask = tool({
    name: 'delete_task',
    description: "Deletes one of the user's tasks, by its number. The user approves each delete first.",
    parameters: z.object({ number: z.number().int().min(1).describe('The task number, as list_tasks shows it.') }),
    // A delete cannot be undone, so a person decides: the run waits, recorded as
    // awaiting_approval, until POST /tasks/runs/:run_id/approvals approves or rejects the call.
    // Rejected, this never runs; the model gets the rejection's message instead.
    needsApproval: true,
    execute: async ({ number }, context?: RunContext<TaskContext>) => {
      const task = await tasksOf(context).delete(number);
      return task ? `Deleted task ${number}: ${task.title}.` : `There is no task ${number}.`;
    },
  });

  return [addTask, listTasks, completeTask, deleteTask];
}

function describeTask(task: Task): string {
  return `${task.number}. ${task.title} (${task.done ? 'done' : 'open'})`;
}
