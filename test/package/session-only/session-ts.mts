// TypeScript (ESM) in a project without Express: type-checked without skipLibCheck, so a
// declaration file of the entry that imported express would fail here too; then compiled and run.
import type { Session } from '@openai/agents';
import type { Kysely } from 'kysely';
import * as lib from 'express-agent-router/session';
import { PostgresSession, migrate, type MigrateResult, type PostgresSessionOptions } from 'express-agent-router/session';
import { checkSession } from './session-check.cjs';

export function typed(db: Kysely<unknown>): [Session, Promise<MigrateResult>] {
  const options: PostgresSessionOptions = { db, sessionId: 'chat-1', agentName: 'Assistant' };
  return [new PostgresSession(options), migrate(db)];
}
await checkSession(lib, 'esm-ts');
