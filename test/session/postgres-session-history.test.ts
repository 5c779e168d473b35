import { UserError, type AgentInputItem, type SessionHistoryTransaction } from '@openai/agents';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnyKysely } from '../../src/db/schema.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import {
  createTestDatabase,
  describeEachEngine,
  describePostgres,
  type TestDatabase,
} from '../helpers/database.js';

/**
 * applyHistoryTransaction and applyHistoryMutations as database operations: the counters they
 * keep, the operation record, and (on PostgreSQL only) atomicity and concurrency. That both
 * sessions behave alike is proven in test/conformance/.
 */

const user = (text: string): AgentInputItem => ({ type: 'message', role: 'user', content: text });
const texts = (items: AgentInputItem[]) => items.map((item) => (item as { content: string }).content);
const append = (...items: AgentInputItem[]): SessionHistoryTransaction => ({ type: 'append_items', items });
const replace = (expectedSuffix: AgentInputItem[], replacement: AgentInputItem[]): SessionHistoryTransaction => ({
  type: 'replace_suffix',
  expectedSuffix,
  replacement,
});
const call = (callId: string, args = '{}'): AgentInputItem => ({
  type: 'function_call',
  callId,
  name: 'lookup',
  arguments: args,
});

/** The chat's counters, the real row count, and the recorded operation ids. */
async function bookkeeping(db: AnyKysely, sessionId: string) {
  const { rows: chat } = await sql<{ item_count: number; next_position: number }>`
    SELECT item_count, next_position FROM agent_chats WHERE id = ${sessionId}
  `.execute(db);
  const { rows: items } = await sql<{ n: number | string; max: number | null }>`
    SELECT count(*) AS n, max(position) AS max FROM agent_items WHERE session_id = ${sessionId}
  `.execute(db);
  const { rows: operations } = await sql<{ operation_id: string }>`
    SELECT operation_id FROM agent_history_operations WHERE session_id = ${sessionId} ORDER BY operation_id
  `.execute(db);
  return {
    chat: chat[0],
    rows: Number(items[0]!.n),
    maxPosition: items[0]!.max,
    operations: operations.map((row) => row.operation_id),
  };
}

describeEachEngine('PostgresSession history operations', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database.destroy());

  const session = (sessionId: string, extra: { agentName?: string; runId?: string } = {}) =>
    new PostgresSession({ db: database.db, sessionId, ...extra });

  it('appends once per operation id, recording the id and keeping the counters exact', async () => {
    const s = session('append');
    await s.addItems([user('before')]);
    await s.applyHistoryTransaction({ operationId: 'op-1', transaction: append(user('a'), user('b')) });
    await session('append').applyHistoryTransaction({ operationId: 'op-1', transaction: append(user('a'), user('b')) });
    expect(texts(await s.getItems())).toEqual(['before', 'a', 'b']);
    expect(await bookkeeping(database.db, 'append')).toEqual({
      chat: { item_count: 3, next_position: 4 },
      rows: 3,
      maxPosition: 3,
      operations: ['op-1'],
    });
  });

  it('replaces a matching suffix: removes the tail, appends the replacement, positions keep growing', async () => {
    const s = session('replace');
    await s.addItems([user('a'), user('b'), user('c')]);
    await s.applyHistoryTransaction({ operationId: 'op-r', transaction: replace([user('b'), user('c')], [user('B')]) });
    expect(texts(await s.getItems())).toEqual(['a', 'B']);
    // Positions 2 and 3 are gone and the replacement took 4: order is by position, gaps allowed.
    expect(await bookkeeping(database.db, 'replace')).toEqual({
      chat: { item_count: 2, next_position: 5 },
      rows: 2,
      maxPosition: 4,
      operations: ['op-r'],
    });
    expect(texts(await s.getItems(1))).toEqual(['B']);
  });

  it('changes nothing and records nothing when the suffix does not match or the id is reused', async () => {
    const s = session('refused');
    await s.addItems([user('a'), user('b')]);
    await s.applyHistoryTransaction({ operationId: 'op-1', transaction: append(user('c')) });
    const before = await bookkeeping(database.db, 'refused');
    await expect(
      s.applyHistoryTransaction({ operationId: 'op-2', transaction: replace([user('b')], [user('x')]) }),
    ).rejects.toThrow(/suffix no longer matches/);
    await expect(
      s.applyHistoryTransaction({ operationId: 'op-1', transaction: append(user('d')) }),
    ).rejects.toThrow(UserError);
    expect(await bookkeeping(database.db, 'refused')).toEqual(before);
    expect(texts(await s.getItems())).toEqual(['a', 'b', 'c']);
  });

  it('refuses a non-empty suffix on a session that does not exist, without creating it', async () => {
    await expect(
      session('ghost').applyHistoryTransaction({ operationId: 'op', transaction: replace([user('a')], []) }),
    ).rejects.toThrow(/suffix no longer matches/);
    expect((await bookkeeping(database.db, 'ghost')).chat).toBeUndefined();
  });

  it('creates the chat for a first transaction, and stamps agentName and runId on its items', async () => {
    const runId = '7a1d5b8e-2f0c-4c55-9d7e-0b5a6c1e2f30';
    await session('stamped', { agentName: 'Guarded', runId }).applyHistoryTransaction({
      operationId: 'op',
      transaction: append(user('a')),
    });
    const { rows } = await sql<{ agent_name: string; run_id: string }>`
      SELECT agent_name, run_id FROM agent_items WHERE session_id = 'stamped'
    `.execute(database.db);
    expect(rows).toEqual([{ agent_name: 'Guarded', run_id: runId }]);
    expect((await bookkeeping(database.db, 'stamped')).chat).toEqual({ item_count: 1, next_position: 2 });
  });

  it('clearSession forgets the operations (and the chat row stays)', async () => {
    const s = session('cleared');
    await s.applyHistoryTransaction({ operationId: 'op', transaction: append(user('a')) });
    await s.clearSession();
    expect(await bookkeeping(database.db, 'cleared')).toMatchObject({ rows: 0, operations: [], chat: { item_count: 0 } });
    await s.applyHistoryTransaction({ operationId: 'op', transaction: append(user('a')) });
    expect(texts(await s.getItems())).toEqual(['a']);
  });

  it('compares stored items holding U+0000 (stored wrapped) with the expected suffix', async () => {
    const s = session('wrapped');
    const odd = user('nul \u0000 and lone \udc00');
    await s.addItems([user('a'), odd]);
    await s.applyHistoryTransaction({ operationId: 'op', transaction: replace([odd], [odd, user('z')]) });
    expect(await s.getItems()).toEqual([user('a'), odd, user('z')]);
    // The operation record holds the transaction exactly, so a replay is recognised.
    await s.applyHistoryTransaction({ operationId: 'op', transaction: replace([odd], [odd, user('z')]) });
    expect(await bookkeeping(database.db, 'wrapped')).toMatchObject({ rows: 3, chat: { item_count: 3 } });
  });

  it('applies the same operation once when it is sent many times at once', async () => {
    // On PostgreSQL the chat lock orders them; on pg-mem calls for a session are queued.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        session('same-op').applyHistoryTransaction({ operationId: 'op', transaction: append(user('x'), user('y')) }),
      ),
    );
    expect(results.every((result) => result.status === 'fulfilled')).toBe(true);
    expect(await bookkeeping(database.db, 'same-op')).toEqual({
      chat: { item_count: 2, next_position: 3 },
      rows: 2,
      maxPosition: 2,
      operations: ['op'],
    });
  });

  it('rewrites function calls with applyHistoryMutations, keeping item_count exact', async () => {
    const s = session('mutations');
    await s.addItems([user('q'), call('c1'), call('c1', '{"again":1}'), call('c2', '{"q":"\u0000"}'), user('end')]);
    await s.applyHistoryMutations({
      mutations: [
        { type: 'replace_function_call', callId: 'c1', replacement: call('c1', '{"fixed":1}') as never },
        { type: 'replace_function_call', callId: 'c2', replacement: call('c2', '{"fixed":2}') as never },
      ],
    });
    expect((await s.getItems()).map((item) => (item as { arguments?: string }).arguments ?? '-')).toEqual([
      '-',
      '{"fixed":1}',
      '{"fixed":2}',
      '-',
    ]);
    expect(await bookkeeping(database.db, 'mutations')).toMatchObject({ rows: 4, chat: { item_count: 4 } });
  });
});

describePostgres('PostgresSession history operations on PostgreSQL: atomicity and concurrency', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { poolSize: 20 });
  });
  afterAll(() => database.destroy());

  const session = (sessionId: string, db: AnyKysely = database.db) => new PostgresSession({ db, sessionId });

  /** Separate pools stand for separate app processes. */
  async function withPools<T>(count: number, fn: (dbs: AnyKysely[]) => Promise<T>): Promise<T> {
    const dbs = Array.from(
      { length: count },
      () => new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ ...database.pool, max: 2 }) }) }),
    );
    try {
      return await fn(dbs);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  }

  /** Makes the database refuse one item, so that a statement fails half way through a transaction. */
  async function withPoison<T>(fn: () => Promise<T>): Promise<T> {
    await sql`ALTER TABLE agent_items ADD CONSTRAINT no_poison CHECK (item->>'content' IS DISTINCT FROM 'poison')`.execute(
      database.db,
    );
    try {
      return await fn();
    } finally {
      await sql`ALTER TABLE agent_items DROP CONSTRAINT no_poison`.execute(database.db);
    }
  }

  it('is all-or-nothing: a replace that fails while inserting keeps the old tail and records no id', async () => {
    const s = session('atomic');
    await s.addItems([user('a'), user('b')]);
    const before = await bookkeeping(database.db, 'atomic');
    const transaction = replace([user('b')], [user('b2'), user('poison')]);
    // The tail is deleted and the counters moved before the insert fails: all of it rolls back.
    await withPoison(() =>
      expect(s.applyHistoryTransaction({ operationId: 'op', transaction })).rejects.toThrow(/no_poison/),
    );
    expect(await bookkeeping(database.db, 'atomic')).toEqual(before);
    expect(texts(await s.getItems())).toEqual(['a', 'b']);
    // The id was not recorded, so the retry applies.
    await s.applyHistoryTransaction({ operationId: 'op', transaction });
    expect(texts(await s.getItems())).toEqual(['a', 'b2', 'poison']);
  });

  it('joins a transaction the host passes as db: rolled back with it, or committed with it', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await session('host-trx', trx).applyHistoryTransaction({ operationId: 'op', transaction: append(user('a')) });
        throw new Error('host rolls back');
      }),
    ).rejects.toThrow('host rolls back');
    expect((await bookkeeping(database.db, 'host-trx')).chat).toBeUndefined();

    await database.db.transaction().execute(async (trx) => {
      await session('host-trx', trx).applyHistoryTransaction({ operationId: 'op', transaction: append(user('a')) });
      // Refused inside the host's transaction: nothing of it stays when the host commits anyway.
      await expect(
        session('host-trx-ghost', trx).applyHistoryTransaction({
          operationId: 'op',
          transaction: replace([user('nope')], []),
        }),
      ).rejects.toThrow(UserError);
    });
    expect(texts(await session('host-trx').getItems())).toEqual(['a']);
    expect((await bookkeeping(database.db, 'host-trx-ghost')).chat).toBeUndefined();
  });

  it('a retry from another process after a lost reply is a no-op', async () => {
    await withPools(2, async ([first, second]) => {
      const transaction = append(user('once'));
      await session('lost-reply', first).applyHistoryTransaction({ operationId: 'op', transaction });
      // The first process died before hearing back; another one retries.
      await session('lost-reply', second).applyHistoryTransaction({ operationId: 'op', transaction });
      await expect(
        session('lost-reply', second).applyHistoryTransaction({ operationId: 'op', transaction: append(user('x')) }),
      ).rejects.toThrow(/already applied with a different transaction/);
    });
    expect(await bookkeeping(database.db, 'lost-reply')).toMatchObject({ rows: 1, operations: ['op'] });
  });

  it('applies an operation once when two processes send it at the same moment', async () => {
    await withPools(2, async (dbs) => {
      // Many rounds, each on a fresh session so that both start from a missing chat row (the
      // race on creating it) or from an existing one.
      for (let round = 0; round < 20; round++) {
        const sessionId = `race-${round}`;
        if (round % 2 === 1) await session(sessionId).addItems([user('seed')]);
        const transaction = append(user(`r${round}a`), user(`r${round}b`));
        await Promise.all(
          dbs.map((db) => session(sessionId, db).applyHistoryTransaction({ operationId: 'op', transaction })),
        );
        const expected = round % 2 === 1 ? ['seed', `r${round}a`, `r${round}b`] : [`r${round}a`, `r${round}b`];
        expect(texts(await session(sessionId).getItems())).toEqual(expected);
        const book = await bookkeeping(database.db, sessionId);
        expect(book.chat!.item_count).toBe(expected.length);
        expect(book.operations).toEqual(['op']);
      }
    });
  });

  it('lets exactly one of several replaces of the same tail win', async () => {
    const sessionId = 'competing-replaces';
    await session(sessionId).addItems([user('a'), user('tail')]);
    const results = await withPools(4, (dbs) =>
      Promise.allSettled(
        dbs.map((db, index) =>
          session(sessionId, db).applyHistoryTransaction({
            operationId: `op-${index}`,
            transaction: replace([user('tail')], [user(`winner ${index}`)]),
          }),
        ),
      ),
    );
    const won = results.filter((result) => result.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(UserError);
    }
    const stored = texts(await session(sessionId).getItems());
    expect(stored).toHaveLength(2);
    expect(stored[1]).toMatch(/^winner \d$/);
    expect(await bookkeeping(database.db, sessionId)).toMatchObject({ rows: 2, chat: { item_count: 2 } });
  });

  it('keeps item_count equal to the rows while transactions, appends, pops and clears race', async () => {
    const sessionId = 'mixed-history-race';
    await session(sessionId).addItems([user('seed')]);
    await withPools(3, async (dbs) => {
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i++) {
        const db = dbs[i % dbs.length]!;
        const transaction = append(user(`t${i}a`), user(`t${i}b`), user(`t${i}c`));
        // Each operation sent twice, from two processes: applied once.
        work.push(session(sessionId, db).applyHistoryTransaction({ operationId: `op-${i}`, transaction }));
        work.push(session(sessionId, dbs[(i + 1) % dbs.length]).applyHistoryTransaction({ operationId: `op-${i}`, transaction }));
        work.push(session(sessionId, db).addItems([user(`a${i}`)]));
        if (i % 4 === 0) work.push(session(sessionId, db).popItem());
        if (i % 13 === 6) work.push(session(sessionId, db).clearSession());
      }
      await Promise.all(work);
    });
    const book = await bookkeeping(database.db, sessionId);
    expect(book.chat!.item_count).toBe(book.rows);
    // No transaction is stored twice, and what is left of each is together and in order. A pop
    // takes the newest item, so it may have shortened the transaction applied just before it
    // (and others appended after that): what survives is a prefix of the transaction.
    const stored = texts(await session(sessionId).getItems());
    for (let i = 0; i < 30; i++) {
      const items = [`t${i}a`, `t${i}b`, `t${i}c`];
      const survivors = stored.filter((text) => items.includes(text));
      if (survivors.length === 0) continue; // cleared
      expect(survivors).toEqual(items.slice(0, survivors.length));
      const first = stored.indexOf(items[0]!);
      expect(stored.slice(first, first + survivors.length)).toEqual(survivors);
    }
  });
});
