// The examples' database: the PostgreSQL at DATABASE_URL, or an embedded pg-mem one.
//
// pg-mem is an in-memory imitation of PostgreSQL, good enough to try the library with nothing
// installed. It is not PostgreSQL (it cannot roll back, it has no advisory locks...): use it
// for demos and quick tests, never in production. Its data is gone when the process stops.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { newDb } from 'pg-mem';

export interface ExampleDatabase {
  db: Kysely<any>;
  /** Which database this is, for the start-up banner (without any password). */
  description: string;
  /** Closes the pool. */
  close(): Promise<void>;
}

export function openDatabase(): ExampleDatabase {
  const url = process.env.DATABASE_URL;
  if (url) {
    // Fail fast rather than queue for ever when the database is down (the routers answer 503).
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5_000 });
    // node-postgres emits 'error' when a connection dies outside a query (a database restart,
    // pg_terminate_backend): on the pool for an idle connection, on the client for one checked
    // out between two queries. Without listeners, that would crash the process.
    pool.on('error', (error) => console.warn(`database connection lost: ${error.message}`));
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    return { db, description: `PostgreSQL at ${withoutPassword(url)}`, close: () => db.destroy() };
  }
  const { Pool } = newDb().adapters.createPg();
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new Pool() }) });
  return {
    db,
    description: 'pg-mem, an embedded in-memory database (data is lost at exit; set DATABASE_URL to use PostgreSQL)',
    close: () => db.destroy(),
  };
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}
