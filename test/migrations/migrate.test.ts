import { readdirSync } from 'node:fs';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, pendingMigrations, withoutPostgresOnly } from '../../src/migrations/migrate.js';
import { migrations } from '../../src/migrations/migration-files.js';
import {
  createTestDatabase,
  describeEachEngine,
  describePostgres,
  type TestDatabase,
} from '../helpers/database.js';

const allNames = migrations.map((migration) => migration.name);

it('bundles every file of migrations/, in order', () => {
  const files = readdirSync(new URL('../../migrations/', import.meta.url))
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => file.replace(/\.sql$/, ''));
  expect(allNames).toEqual(files);
});

describeEachEngine('migrate', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine, { migrate: false });
  });
  afterAll(() => database.destroy());

  it('applies every migration, records it, and applies nothing the second time', async () => {
    expect(await migrate(database.db)).toEqual({ applied: allNames });
    const { rows } = await sql<{ name: string }>`SELECT name FROM agent_router_migrations ORDER BY name`.execute(
      database.db,
    );
    expect(rows.map((row) => row.name)).toEqual(allNames);
    expect(await migrate(database.db)).toEqual({ applied: [] });
    // The schema is usable.
    await sql`INSERT INTO agent_chats (id, user_id) VALUES ('c1', 'u1')`.execute(database.db);
  });

  it('says which migrations a database lacks: all before migrate(), none after', async () => {
    const fresh = await createTestDatabase(engine, { migrate: false });
    try {
      expect(await pendingMigrations(fresh.db)).toEqual(allNames);
      await migrate(fresh.db);
      expect(await pendingMigrations(fresh.db)).toEqual([]);
      await sql`DELETE FROM agent_router_migrations WHERE name = ${allNames.at(-1)!}`.execute(fresh.db);
      expect(await pendingMigrations(fresh.db)).toEqual([allNames.at(-1)]);
    } finally {
      await fresh.destroy();
    }
  });

  it(engine === 'postgres' ? 'creates the full-text search column' : 'leaves out the PostgreSQL-only full-text search column', async () => {
    const { rows } = await sql<{ column_name: string }>`
      SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'agent_memories'
    `.execute(database.db);
    const columns = rows.map((row) => row.column_name);
    expect(columns).toContain('content');
    expect(columns.includes('search')).toBe(engine === 'postgres');
  });
});

it('withoutPostgresOnly drops exactly the marked lines', () => {
  const text = ['CREATE TABLE a (x int);', '-- postgres-only: begin', 'ALTER TABLE a ADD COLUMN t tsvector;', '-- postgres-only: end', 'CREATE INDEX ON a (x);', ''].join('\n');
  expect(withoutPostgresOnly(text)).toBe('CREATE TABLE a (x int);\nCREATE INDEX ON a (x);\n');
});

describePostgres('migrate on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { migrate: false });
  });
  afterAll(() => database.destroy());

  it('is safe when several processes migrate the same database at the same moment', async () => {
    // Separate pools stand for separate app instances starting together.
    const instances = Array.from(
      { length: 6 },
      () => new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ ...database.pool, max: 1 }) }) }),
    );
    try {
      const results = await Promise.all(instances.map((db) => migrate(db)));
      const appliedBy = results.filter((result) => result.applied.length > 0);
      expect(appliedBy).toEqual([{ applied: allNames }]);
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM agent_router_migrations`.execute(
        database.db,
      );
      expect(Number(rows[0]!.n)).toBe(allNames.length);
    } finally {
      await Promise.all(instances.map((db) => db.destroy()));
    }
  });

  it('runs inside a transaction the host already opened', async () => {
    const other = await createTestDatabase('postgres', { migrate: false });
    try {
      const result = await other.db.transaction().execute((trx) => migrate(trx));
      expect(result.applied).toEqual(allNames);
    } finally {
      await other.destroy();
    }
  });
});
