// Type-checked against the packed tarball (ESM resolution) by .ci/package-check.sh.
import type { Session } from '@openai/agents';
import { Kysely } from 'kysely';
import { PostgresSession, type PostgresSessionOptions } from 'express-agent-router';

declare const db: Kysely<unknown>;
const options: PostgresSessionOptions = { db, sessionId: 'chat-1' };
const session: Session = new PostgresSession(options);
void session;
