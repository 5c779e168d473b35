import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PostgresSession } from 'express-agent-router';
import { seedSession, sampleItem, type BenchDatabase } from '../database.js';
import { compare, type Settings } from '../measure.js';
import type { Report } from '../report.js';

/**
 * PostgresSession beside raw `pg` on the same server and data sizes.
 *
 * Two baselines for writes:
 * - "raw pg": the minimal hand-written statements with the same effect as the library's: store
 *   the items in order *and* keep the chat's counters, in one statement. The goal (≤ 1.3) is
 *   measured against this one: it is the library's own overhead.
 * - "bare insert": only the INSERT a naive store would do (serial id, no counters, no ordering
 *   guarantee between concurrent writers). addItems and the turn have the goal ≤ 1.3 against it
 *   too: the price of those guarantees must stay small; popItem's is shown only.
 */

// The hand-written equivalents of the library's statements (see src/session/history-queries.ts).
const APPEND = `
  WITH chat AS (
    INSERT INTO agent_chats (id, item_count, next_position) VALUES ($1, $2, $2 + 1)
    ON CONFLICT (id) DO UPDATE
      SET item_count = agent_chats.item_count + excluded.item_count,
          next_position = agent_chats.next_position + excluded.item_count,
          updated_at = now()
    RETURNING next_position
  )
  INSERT INTO agent_items (session_id, position, item)
  SELECT $1, chat.next_position - $2 + new.ordinality::integer - 1, new.value
  FROM chat, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS new`;
const LATEST = 'SELECT item FROM agent_items WHERE session_id = $1 ORDER BY position DESC LIMIT $2';
const POP = `
  WITH chat AS (SELECT id FROM agent_chats WHERE id = $1 FOR UPDATE),
  popped AS (
    DELETE FROM agent_items
    WHERE session_id = $1 AND position = (
      SELECT position FROM agent_items WHERE session_id = (SELECT id FROM chat)
      ORDER BY position DESC LIMIT 1 FOR UPDATE)
    RETURNING item
  ), counted AS (
    UPDATE agent_chats SET item_count = item_count - 1, updated_at = now()
    WHERE id = $1 AND EXISTS (SELECT 1 FROM popped)
  )
  SELECT item FROM popped`;
const BARE_INSERT = (n: number) =>
  `INSERT INTO raw_items (session_id, item) VALUES ${Array.from({ length: n }, (_, k) => `($1, $${k + 2})`).join(', ')}`;
const BARE_LATEST = 'SELECT item FROM raw_items WHERE session_id = $1 ORDER BY session_id DESC, id DESC LIMIT $2';
const BARE_POP = `
  DELETE FROM raw_items WHERE id = (
    SELECT id FROM raw_items WHERE session_id = $1 ORDER BY session_id DESC, id DESC LIMIT 1
  ) RETURNING item`;

export async function sessionOperations(bench: BenchDatabase, settings: Settings, report: Report) {
  const { db, raw } = bench;
  const session = (sessionId: string) => new PostgresSession({ db, sessionId });
  const items = (n: number, i: number) => Array.from({ length: n }, (_, k) => sampleItem(i * n + k));
  const asJson = (values: unknown[]) => values.map((value) => JSON.stringify(value));

  for (const n of [1, 10]) {
    const result = await compare(
      [
        { name: 'raw pg', run: (i) => raw.query(APPEND, [`raw-add-${n}`, n, JSON.stringify(items(n, i))]) },
        { name: 'library', run: (i) => session(`lib-add-${n}`).addItems(items(n, i)) },
        { name: 'bare insert', run: (i) => raw.query(BARE_INSERT(n), ['bare-add', ...asJson(items(n, i))]) },
      ],
      settings,
    );
    const label = `addItems of ${n} item${n > 1 ? 's' : ''}`;
    report.ratioRow('session', label, result, 1.3);
    report.ratioRow('session', `${label} (vs a bare INSERT)`, result, 1.3, { baseline: 'bare insert' });
  }
  report.valueRow('session', 'SQL statements per addItems(10)', await countStatements(bench), 'statements', {
    goal: 1,
    met: (value) => value === 1,
  });

  const sizes = [100, 10_000, 100_000];
  for (const size of sizes) await seedSession(bench, `read-${size}`, size);
  for (const size of sizes) {
    const result = await compare(
      [
        { name: 'raw pg', run: () => raw.query(LATEST, [`read-${size}`, 50]) },
        { name: 'library', run: () => session(`read-${size}`).getItems(50) },
      ],
      settings,
    );
    report.ratioRow('session', `getItems(50), session of ${size.toLocaleString('en')} items`, result, 1.3);
  }
  const growth = await compare(
    [
      { name: '100 items', run: () => session('read-100').getItems(50) },
      { name: '100,000 items', run: () => session('read-100000').getItems(50) },
    ],
    settings,
  );
  report.ratioRow('session', 'getItems(50): 100,000-item session vs 100-item session', growth, 1.5, {
    contender: '100,000 items',
    baseline: '100 items',
  });

  // popItem: enough items in each session for every pop of the measurement.
  const pops = settings.warmup + settings.rounds * settings.batch + 10;
  for (const id of ['pop-raw', 'pop-lib', 'pop-bare']) await seedSession(bench, id, pops);
  const popResult = await compare(
    [
      { name: 'raw pg', run: () => raw.query(POP, ['pop-raw']) },
      { name: 'library', run: () => session('pop-lib').popItem() },
      { name: 'bare insert', run: () => raw.query(BARE_POP, ['pop-bare']) },
    ],
    settings,
  );
  report.ratioRow('session', 'popItem', popResult, 1.3);
  report.ratioRow('session', 'popItem (vs a bare DELETE)', popResult, null, { baseline: 'bare insert' });

  // One conversational turn: read the recent history, then store the user message and the reply.
  for (const id of ['turn-raw', 'turn-lib', 'turn-bare']) await seedSession(bench, id, 100);
  const turn = await compare(
    [
      {
        name: 'raw pg',
        run: async (i) => {
          await raw.query(LATEST, ['turn-raw', 50]);
          await raw.query(APPEND, ['turn-raw', 2, JSON.stringify(items(2, i))]);
        },
      },
      {
        name: 'library',
        run: async (i) => {
          const s = session('turn-lib');
          await s.getItems(50);
          await s.addItems(items(2, i));
        },
      },
      {
        name: 'bare insert',
        run: async (i) => {
          await raw.query(BARE_LATEST, ['turn-bare', 50]);
          await raw.query(BARE_INSERT(2), ['turn-bare', ...asJson(items(2, i))]);
        },
      },
    ],
    settings,
  );
  report.ratioRow('session', 'one turn (getItems(50) + addItems(2))', turn, 1.3);
  report.ratioRow('session', 'one turn (vs bare SELECT + INSERT)', turn, 1.3, { baseline: 'bare insert' });
}

/** Counts the statements the library sends for one addItems of 10 items. */
async function countStatements(bench: BenchDatabase): Promise<number> {
  let statements = 0;
  const counted = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool(bench.poolConfig) }),
    log: (event) => {
      if (event.level === 'query') statements++;
    },
  });
  try {
    const session = new PostgresSession({ db: counted, sessionId: 'count-statements' });
    await session.addItems([sampleItem(0)]); // the engine probe happens on first use
    statements = 0;
    await session.addItems(Array.from({ length: 10 }, (_, i) => sampleItem(i)));
    return statements;
  } finally {
    await counted.destroy();
  }
}
