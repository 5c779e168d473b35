import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, describePostgres } from './database.js';
import { sessionLevelSql } from './session-level-sql.js';

describe('sessionLevelSql', () => {
  it.each([
    'SET statement_timeout = 0',
    'set search_path to other',
    'SET SESSION lock_timeout = 1000',
    'RESET ALL',
    "SELECT set_config('search_path', 'other', false)",
    'SELECT pg_advisory_lock(42)',
    'SELECT pg_try_advisory_lock(1, 2)',
    'SELECT pg_advisory_unlock_all()',
    'LISTEN agent_runs',
    'PREPARE q AS SELECT 1',
    'EXECUTE q',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    'CREATE TEMP TABLE scratch (x int)',
    'CREATE GLOBAL TEMPORARY TABLE scratch (x int)',
    'CREATE TABLE a (x int); SET work_mem = 1',
  ])('flags %s', (text) => {
    expect(sessionLevelSql(text)).toBeDefined();
  });

  it.each([
    'SET LOCAL statement_timeout = 0',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET CONSTRAINTS ALL DEFERRED',
    "SELECT set_config('search_path', 'other', true)",
    'SELECT pg_advisory_xact_lock(42)',
    'SELECT pg_try_advisory_xact_lock(42)',
    'UPDATE agent_chats\n    SET item_count = item_count + 1\n    WHERE id = $1',
    "INSERT INTO notes (text) VALUES ('SET x = 1; LISTEN y')",
    '-- SET x = 1\nSELECT 1',
    'NOTIFY agent_runs',
    'begin',
  ])('lets %s through', (text) => {
    expect(sessionLevelSql(text)).toBeUndefined();
  });
});

describePostgres('test databases', () => {
  it('refuse to be destroyed quietly after a statement that left session state behind', async () => {
    const database = await createTestDatabase('postgres', { migrate: false });
    await sql`SET statement_timeout = 0`.execute(database.db);
    await expect(database.destroy()).rejects.toThrow(/SET without LOCAL changes the session: SET statement_timeout = 0/);
  });

  it('accept what stays in its transaction', async () => {
    const database = await createTestDatabase('postgres', { migrate: false });
    await database.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL statement_timeout = 0`.execute(trx);
      await sql`SELECT pg_advisory_xact_lock(42)`.execute(trx);
    });
    await database.destroy();
  });
});
