import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, type LogEvent } from 'kysely';
import pg from 'pg';
import { newDb } from 'pg-mem';
import { describe } from 'vitest';
import type { AnyKysely } from '../../src/db/schema.js';
import { migrate } from '../../src/migrations/migrate.js';
import { sessionLevelSql } from './session-level-sql.js';

/**
 * Databases the suites run against.
 *
 * - `postgres`: the real server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
 *   directly or through a connection pooler in transaction mode (PgBouncer: `.ci/run` runs the
 *   suites both ways). Each test database is a fresh schema on it, selected through
 *   `search_path`, so test files run in parallel without seeing each other's rows.
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
  /**
   * A connection string that selects this database by itself (postgres only): for child
   * processes, which get it as their DATABASE_URL.
   */
  url?: string;
  /**
   * Closes and removes the database. Rejects if a statement sent through `db` left session
   * state behind (see session-level-sql.ts), which a transaction pooler would lose or leak.
   */
  destroy(): Promise<void>;
}

interface Server {
  reachable: boolean;
  /** Why it is not (the connection error). */
  reason?: string;
  /**
   * The server at DATABASE_URL ignores `options` at startup, as PgBouncer does with
   * `ignore_startup_parameters = options`: a `search_path` sent that way is lost.
   */
  dropsStartupOptions: boolean;
}

const PROBE_PATH = 'agent_router_probe';

let server: Promise<Server> | undefined;

function probeServer(): Promise<Server> {
  server ??= (async () => {
    const client = new pg.Client({
      connectionString: POSTGRES_URL,
      connectionTimeoutMillis: 3000,
      options: `-c search_path=${PROBE_PATH}`,
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ path: string }>(`SELECT current_setting('search_path') AS path`);
      return { reachable: true, dropsStartupOptions: rows[0]!.path !== PROBE_PATH };
    } catch (error) {
      return { reachable: false, reason: String(error), dropsStartupOptions: false };
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return server;
}

export async function postgresReachable(): Promise<boolean> {
  return (await probeServer()).reachable;
}

const required = process.env.REQUIRE_POSTGRES === '1';
const { reachable: hasPostgres, reason, dropsStartupOptions } = await probeServer();

/**
 * True when DATABASE_URL leads to a pooler that drops the startup `options` (PgBouncer in
 * transaction mode, as `.ci/run` starts it): each test database then has a role of its own
 * that selects its schema (see `createPostgresDatabase`).
 */
export const behindPooler = dropsStartupOptions;

if (!hasPostgres) {
  if (required) throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at ${POSTGRES_URL}: ${reason}`);
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

/**
 * A fresh schema on the server, and how to reach it.
 *
 * Directly, connections select the schema with `search_path` in the startup `options`. A pooler
 * in transaction mode drops those, and `SET search_path` would be session state, left on a
 * server connection for whichever client gets it next. So behind one, the database also gets a
 * role of the schema's name whose `search_path` is the schema (`ALTER ROLE ... SET`, applied by
 * the server at every login): the pooler keeps one pool per user, so every server connection it
 * hands to this database's clients was opened by that role, with that path. The role is a
 * superuser, like the direct path's user, so that tests have the same rights either way.
 */
async function createPostgresDatabase(poolSize = 10): Promise<TestDatabase> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  if (behindPooler) {
    await adminQuery(
      `CREATE ROLE ${schema} LOGIN SUPERUSER; ALTER ROLE ${schema} SET search_path = ${schema}; CREATE SCHEMA ${schema} AUTHORIZATION ${schema}`,
    );
    url.username = schema;
    url.password = '';
  } else {
    await adminQuery(`CREATE SCHEMA ${schema}`);
    url.searchParams.set('options', `-c search_path=${schema}`);
  }
  const poolConfig: pg.PoolConfig = behindPooler
    ? { connectionString: url.href, max: poolSize }
    : { connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: poolSize };
  const pool = new pg.Pool(poolConfig);
  // The reliability suite kills connections and restarts the server: an idle connection that
  // dies must not crash the test process.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const guard = sessionStateGuard();
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }), log: guard.log });
  return {
    engine: 'postgres',
    db,
    pool: poolConfig,
    schema,
    url: url.href,
    async destroy() {
      await db.destroy();
      if (!behindPooler) await adminQuery(`DROP SCHEMA ${schema} CASCADE`);
      else {
        // The pooler keeps the role's server connections open: end them, so that they do not
        // hold connection slots of the shared server until the pooler's idle timeout.
        await adminQuery(
          `DROP SCHEMA ${schema} CASCADE; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${schema}'; DROP ROLE ${schema}`,
        );
      }
      guard.check();
    },
  };
}

/** Watches the statements of a Kysely instance (its `log` option) for session-level SQL. */
function sessionStateGuard() {
  const found = new Set<string>();
  return {
    log(event: LogEvent): void {
      const reason = sessionLevelSql(event.query.sql);
      if (reason) found.add(reason);
    },
    check(): void {
      if (found.size === 0) return;
      throw new Error(
        `Statements that leave session state behind, which a pooler in transaction mode (PgBouncer) does not keep between transactions:\n${[...found].join('\n')}`,
      );
    },
  };
}

/** Statements run as DATABASE_URL's user (several, separated by `;`, run as one transaction). */
async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function createPgMemDatabase(): TestDatabase {
  const mem = newDb();
  const { Pool } = mem.adapters.createPg();
  const guard = sessionStateGuard();
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool() }), log: guard.log });
  return {
    engine: 'pg-mem',
    db,
    async destroy() {
      await db.destroy();
      guard.check();
    },
  };
}
