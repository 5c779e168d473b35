// Type-checked against the packed tarball (CommonJS resolution) by .ci/package-check.sh.
import type { Session } from '@openai/agents';
import type { Kysely } from 'kysely';
import { PostgresSession } from 'express-agent-router';

declare const db: Kysely<unknown>;
const session: Session = new PostgresSession({ db });
void session;
