import { sql } from 'kysely';
import { detectEngine } from '../db/engine.js';
import type { AnyKysely } from '../db/schema.js';
import { migrations } from './migration-files.js';

/** The table where `migrate` records what it applied. */
export const MIGRATIONS_TABLE = 'agent_router_migrations';

/**
 * Key of the transaction-scoped advisory lock that makes concurrent `migrate` calls (several app
 * instances starting at once) take turns: the second waits, then finds nothing left to apply.
 */
const MIGRATION_LOCK_KEY = '7420186553190417001';

export interface MigrateResult {
  /** Names of the migrations this call applied, in order; empty when the schema was up to date. */
  applied: string[];
}

/**
 * Applies the pending migrations of `migrations/` and records them in `agent_router_migrations`.
 *
 * Safe to call at every start-up: it is idempotent, and on PostgreSQL concurrent callers are
 * serialised by an advisory lock while everything pending is applied in one transaction (all or
 * nothing). Also works on pg-mem, where Kysely's own Migrator does not run.
 *
 * ```ts
 * import { Kysely, PostgresDialect } from 'kysely';
 * import pg from 'pg';
 * import { migrate } from 'express-agent-router';
 *
 * const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString }) }) });
 * await migrate(db);
 * ```
 */
export async function migrate(db: AnyKysely): Promise<MigrateResult> {
  const { postgres } = await detectEngine(db);
  if (!postgres) return applyPending(db);
  if (db.isTransaction) return applyPending(db, true);
  return db.transaction().execute((trx) => applyPending(trx, true));
}

/** On PostgreSQL (`postgres`), under the advisory lock; on pg-mem, without the PostgreSQL-only parts. */
async function applyPending(db: AnyKysely, postgres = false): Promise<MigrateResult> {
  if (postgres) await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`.execute(db);
  // Checked rather than CREATE TABLE IF NOT EXISTS, which pg-mem refuses once the table exists.
  const existing = await sql`
    SELECT 1 FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_name = 'agent_router_migrations'
  `.execute(db);
  if (existing.rows.length === 0) {
    await sql`
      CREATE TABLE agent_router_migrations (
        name       varchar(255) PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )
    `.execute(db);
  }
  const { rows } = await sql<{ name: string }>`SELECT name FROM agent_router_migrations`.execute(db);
  const done = new Set(rows.map((row) => row.name));
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.name)) continue;
    await sql.raw(postgres ? migration.sql : withoutPostgresOnly(migration.sql)).execute(db);
    await sql`INSERT INTO agent_router_migrations (name) VALUES (${migration.name})`.execute(db);
    applied.push(migration.name);
  }
  return { applied };
}

/**
 * A migration's SQL without its PostgreSQL-only parts, for pg-mem: the lines from
 * `-- postgres-only: begin` to `-- postgres-only: end` (full-text search, which pg-mem lacks).
 * The features that use them say how they do without (see src/memories/).
 */
export function withoutPostgresOnly(text: string): string {
  return text.replace(/^-- postgres-only: begin\n[\s\S]*?^-- postgres-only: end\n?/gm, '');
}

/**
 * The migrations this version of the library has that `db` has not applied yet, in order: empty
 * when the schema is up to date (or newer, migrated by a later version). A database never
 * migrated has them all pending. What the health router checks, in one query.
 */
export async function pendingMigrations(db: AnyKysely): Promise<string[]> {
  let applied: Set<string>;
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM agent_router_migrations`.execute(db);
    applied = new Set(rows.map((row) => row.name));
  } catch (error) {
    if (!isMissingTable(error)) throw error;
    applied = new Set();
  }
  return migrations.map((migration) => migration.name).filter((name) => !applied.has(name));
}

/** "relation does not exist": PostgreSQL's SQLSTATE 42P01, or pg-mem's message (it has no codes). */
function isMissingTable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === '42P01' || (typeof message === 'string' && /relation "agent_router_migrations" does not exist/.test(message));
}
