import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { newDb } from 'pg-mem';
import { describe } from 'vitest';
import type { AnyKysely } from '../../src/db/schema.js';
import { migrate } from '../../src/migrations/migrate.js';

/**
 * Databases the suites run against.
 *
 * - `postgres`: the real server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 *   Each test database is a fresh schema on it, selected through `search_path`, so test files
 *   run in parallel without seeing each other's rows.
 * - `pg-mem`: the embedded database. It cannot prove anything about transactions, locks,
 *   concurrency or error codes; suites that need those run on `postgres` only.
 *
 * Without a reachable server the postgres suites are skipped with a message, unless
 * REQUIRE_POSTGRES=1 (set by CI), in which case they fail.
 */
export const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Engine = 'postgres' | 'pg-mem';

export interface TestDatabase {
  engine: Engine;
  db: AnyKysely;
  /** Connection settings for opening more connections to the same database (postgres only). */
  pool?: pg.PoolConfig;
  /** The schema holding this database's tables (postgres only). */
  schema?: string;
  destroy(): Promise<void>;
}

let reachable: Promise<boolean> | undefined;

export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

const required = process.env.REQUIRE_POSTGRES === '1';
const hasPostgres = await postgresReachable();
if (!hasPostgres) {
  if (required) throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at ${POSTGRES_URL}.`);
  console.warn(
    `[tests] PostgreSQL is not reachable at ${POSTGRES_URL}: every "[postgres]" suite is SKIPPED. ` +
      'Set DATABASE_URL to run them.',
  );
}

/** `describe` for suites that need real PostgreSQL; skipped (with the warning above) without it. */
export const describePostgres = (name: string, fn: () => void) =>
  hasPostgres ? describe(`[postgres] ${name}`, fn) : describe.skip(`[postgres] ${name}`, fn);

/** Runs `fn` once per engine, as `[postgres] name` and `[pg-mem] name`. */
export function describeEachEngine(name: string, fn: (engine: Engine) => void): void {
  for (const engine of ['postgres', 'pg-mem'] as const) {
    const title = `[${engine}] ${name}`;
    if (engine === 'postgres' && !hasPostgres) describe.skip(title, () => fn(engine));
    else describe(title, () => fn(engine));
  }
}

export async function createTestDatabase(
  engine: Engine,
  options: { migrate?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  const database =
    engine === 'postgres' ? await createPostgresDatabase(options.poolSize) : createPgMemDatabase();
  if (options.migrate !== false) await migrate(database.db);
  return database;
}

async function createPostgresDatabase(poolSize = 10): Promise<TestDatabase> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const poolConfig: pg.PoolConfig = {
    connectionString: POSTGRES_URL,
    options: `-c search_path=${schema}`,
    max: poolSize,
  };
  const pool = new pg.Pool(poolConfig);
  // The reliability suite kills connections and restarts the server: an idle connection that
  // dies must not crash the test process.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    engine: 'postgres',
    db,
    pool: poolConfig,
    schema,
    async destroy() {
      await db.destroy();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

function createPgMemDatabase(): TestDatabase {
  const mem = newDb();
  const { Pool } = mem.adapters.createPg();
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool() }) });
  return { engine: 'pg-mem', db, destroy: () => db.destroy() };
}
