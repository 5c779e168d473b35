// TypeScript (CommonJS) in a project without Express: compiled to require() calls, then run.
import type { Session } from '@openai/agents';
import type { Kysely } from 'kysely';
import lib = require('express-agent-router/session');
import { checkSession } from './session-check.cjs';

export function typed(db: Kysely<unknown>): Session {
  const error: lib.AgentRouterError = new lib.InvalidArgumentError('x');
  void error;
  return new lib.PostgresSession({ db, sessionId: 'chat-1' });
}
checkSession(lib, 'cjs-ts').catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
