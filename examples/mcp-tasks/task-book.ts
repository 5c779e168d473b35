// Each user's tasks, kept in the task server's memory: they last as long as the server process,
// which the app starts and stops with itself. A real MCP server would keep them in its own
// database; the chats that talk about them are in the app's PostgreSQL either way.
import type { Task } from '../tools/task-list.js';

export type { Task };

export class TaskBook {
  readonly #lists = new Map<string, { next: number; tasks: Task[] }>();

  /** The user's list, created empty on first use. */
  #listOf(userId: string) {
    let list = this.#lists.get(userId);
    if (!list) this.#lists.set(userId, (list = { next: 1, tasks: [] }));
    return list;
  }

  add(userId: string, title: string): Task {
    const list = this.#listOf(userId);
    // Numbers are never given out twice, so "complete 2" cannot hit a newer task after a delete.
    const task = { number: list.next++, title, done: false };
    list.tasks.push(task);
    return { ...task };
  }

  list(userId: string): Task[] {
    return this.#listOf(userId).tasks.map((task) => ({ ...task }));
  }

  /** Marks a task done; returns it as it was before, or undefined when there is no such task. */
  complete(userId: string, number: number): Task | undefined {
    const task = this.#listOf(userId).tasks.find((each) => each.number === number);
    const before = task && { ...task };
    if (task) task.done = true;
    return before;
  }

  /** Removes a task; returns it, or undefined when there is no such task. */
  delete(userId: string, number: number): Task | undefined {
    const list = this.#listOf(userId);
    const index = list.tasks.findIndex((each) => each.number === number);
    return index < 0 ? undefined : list.tasks.splice(index, 1)[0];
  }
}
