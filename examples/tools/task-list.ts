// The example's own table: each user's task list. It lives in the same database as the library's
// tables, but the library knows nothing about it: the agent reaches it only through its tools.
import { sql, type Kysely } from 'kysely';

export interface Task {
  number: number;
  title: string;
  done: boolean;
}

/** Creates the tables if they are missing (a real app would put this in its own migrations). */
export async function createTaskTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('example_tasks')
    .ifNotExists()
    .addColumn('user_id', 'varchar(255)', (column) => column.notNull())
    // Numbered per user (1, 2, 3...), so "complete 1" means the same to every user.
    .addColumn('number', 'integer', (column) => column.notNull())
    .addColumn('title', 'varchar(200)', (column) => column.notNull())
    .addColumn('done', 'boolean', (column) => column.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('example_tasks_pkey', ['user_id', 'number'])
    .execute();
  // The last number each user was given. Numbers are never given out twice, so a delete approved
  // some time after it was asked for cannot hit a task added since under the same number.
  await db.schema
    .createTable('example_task_numbers')
    .ifNotExists()
    .addColumn('user_id', 'varchar(255)', (column) => column.primaryKey())
    .addColumn('last', 'integer', (column) => column.notNull())
    .execute();
}

/** A user's tasks, by number. */
export class TaskList {
  readonly #db: Kysely<any>;
  readonly #userId: string;

  constructor(db: Kysely<any>, userId: string) {
    this.#db = db;
    this.#userId = userId;
  }

  async add(title: string): Promise<Task> {
    // One statement takes the next number, so two adds at the same moment get two numbers.
    const { last: number } = await this.#db
      .insertInto('example_task_numbers')
      .values({ user_id: this.#userId, last: 1 })
      .onConflict((conflict) => conflict.column('user_id').doUpdateSet({ last: sql`example_task_numbers.last + 1` }))
      .returning('last')
      .executeTakeFirstOrThrow();
    await this.#db.insertInto('example_tasks').values({ user_id: this.#userId, number, title }).execute();
    return { number, title, done: false };
  }

  async list(): Promise<Task[]> {
    return this.#db
      .selectFrom('example_tasks')
      .select(['number', 'title', 'done'])
      .where('user_id', '=', this.#userId)
      .orderBy('number')
      .execute() as Promise<Task[]>;
  }

  /** Marks a task done; returns it as it was before, or undefined when there is no such task. */
  async complete(number: number): Promise<Task | undefined> {
    const task = (await this.#db
      .selectFrom('example_tasks')
      .select(['number', 'title', 'done'])
      .where('user_id', '=', this.#userId)
      .where('number', '=', number)
      .executeTakeFirst()) as Task | undefined;
    if (task && !task.done) {
      await this.#db
        .updateTable('example_tasks')
        .set({ done: true })
        .where('user_id', '=', this.#userId)
        .where('number', '=', number)
        .execute();
    }
    return task;
  }

  /** Removes a task; returns it, or undefined when there is no such task. */
  async delete(number: number): Promise<Task | undefined> {
    return (await this.#db
      .deleteFrom('example_tasks')
      .where('user_id', '=', this.#userId)
      .where('number', '=', number)
      .returning(['number', 'title', 'done'])
      .executeTakeFirst()) as Task | undefined;
  }
}
