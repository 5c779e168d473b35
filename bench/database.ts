import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrate } from 'express-agent-router';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A private schema on the benchmark database, holding the library's tables and the hand-written
 * baseline's tables side by side, so both work against the same server, data sizes and cache.
 */
export interface BenchDatabase {
  schema: string;
  poolConfig: pg.PoolConfig;
  /** The library's handle. */
  db: Kysely<any>;
  /** The raw `pg` baseline's pool. */
  raw: pg.Pool;
  close(): Promise<void>;
}

export async function openBenchDatabase(connections = 1): Promise<BenchDatabase> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const poolConfig: pg.PoolConfig = {
    connectionString: DATABASE_URL,
    options: `-c search_path=${schema}`,
    max: connections,
  };
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool(poolConfig) }) });
  const raw = new pg.Pool(poolConfig);
  await migrate(db);
  // What a careful hand-written store would use: a serial id for order, an index for "latest N".
  await raw.query(`
    CREATE TABLE raw_items (
      id bigserial PRIMARY KEY,
      session_id varchar(255) NOT NULL,
      item jsonb NOT NULL
    );
    CREATE INDEX raw_items_session_idx ON raw_items (session_id, id);
  `);
  return {
    schema,
    poolConfig,
    db,
    raw,
    async close() {
      await db.destroy();
      await raw.end();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** A message of about 400 bytes of JSON, like a typical chat turn. */
export function sampleItem(i: number): { role: 'user'; content: string } {
  return { role: 'user', content: `message ${i} `.padEnd(370, 'lorem ipsum dolor sit amet ') };
}

/** Fills a library session and a raw session with `count` items each, in bulk. */
export async function seedSession(bench: BenchDatabase, sessionId: string, count: number): Promise<void> {
  const text = sampleItem(0).content;
  await bench.raw.query(
    `INSERT INTO agent_chats (id, item_count, next_position) VALUES ($1, $2, $2 + 1)`,
    [sessionId, count],
  );
  await bench.raw.query(
    `INSERT INTO agent_items (session_id, position, item)
     SELECT $1, n, jsonb_build_object('role', 'user', 'content', $2 || n) FROM generate_series(1, $3) AS n`,
    [sessionId, text, count],
  );
  await bench.raw.query(
    `INSERT INTO raw_items (session_id, item)
     SELECT $1, jsonb_build_object('role', 'user', 'content', $2 || n) FROM generate_series(1, $3) AS n`,
    [sessionId, text, count],
  );
  await bench.raw.query('ANALYZE agent_items; ANALYZE raw_items; ANALYZE agent_chats');
}
