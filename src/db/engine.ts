import { sql } from 'kysely';
import type { AnyKysely } from './schema.js';

/**
 * What the database behind a Kysely handle can do.
 *
 * The library's hot statements are written for PostgreSQL: one statement that updates a chat and
 * writes its items (a data-modifying WITH), and advisory locks for migrations. pg-mem, the
 * embedded database used by the examples and fast tests, supports neither, so for it the same
 * operations run as a short series of single statements. pg-mem runs one statement at a time in
 * one process, so each statement is still atomic there.
 */
export interface EngineFeatures {
  /** True on PostgreSQL; false on pg-mem. */
  readonly postgres: boolean;
}

const detected = new WeakMap<object, Promise<EngineFeatures>>();

/**
 * Detected once per Kysely instance. Transactions share their parent's adapter object, so a host
 * that hands over a new transaction per request does not pay for the probe again.
 */
export function detectEngine(db: AnyKysely): Promise<EngineFeatures> {
  const key = db.getExecutor().adapter;
  let features = detected.get(key);
  if (!features) {
    features = probe(db);
    detected.set(key, features);
    // A probe that failed for a transient reason (database down) must not be cached.
    features.catch(() => detected.delete(key));
  }
  return features;
}

async function probe(db: AnyKysely): Promise<EngineFeatures> {
  try {
    await sql`select version()`.execute(db);
    return { postgres: true };
  } catch (error) {
    if (isMissingFunctionError(error)) return { postgres: false };
    throw error;
  }
}

function isMissingFunctionError(error: unknown): boolean {
  return error instanceof Error && /function version\(\) does not exist/i.test(error.message);
}
