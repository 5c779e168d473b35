import type { Request } from 'express';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import type { AnyKysely } from '../db/schema.js';
import { AgentRouterError, DatabaseUnavailableError, UnauthorizedError } from '../errors.js';
import { describeInvalidId } from '../session/session-id.js';
import type { Logger } from './logger.js';

/**
 * Who is calling. Return nothing (undefined, null or '') for "not signed in": the request is
 * answered 401. Throwing an `AgentRouterError` answers with it; any other error answers 500.
 */
export type GetUserId = (
  req: Request,
) => string | number | null | undefined | Promise<string | number | null | undefined>;

/**
 * The database for this request: a Kysely instance, such as a tenant's database. The chat router
 * also accepts a transaction; the agent router does not, since its leases must be visible to
 * other requests at once (it answers 500 and logs why).
 */
export type GetDb = (req: Request) => AnyKysely | Promise<AnyKysely>;

/** The owner used when no `getUserId` is configured. */
export const ANONYMOUS_USER = 'anonymous';

export async function resolveUserId(
  getUserId: GetUserId | undefined,
  req: Request,
  logger: Logger,
): Promise<string> {
  if (!getUserId) return ANONYMOUS_USER;
  let value: Awaited<ReturnType<GetUserId>>;
  try {
    value = await getUserId(req);
  } catch (error) {
    throw error instanceof AgentRouterError ? error : internal('getUserId threw', error);
  }
  if (value === undefined || value === null || value === '') throw new UnauthorizedError();
  const userId = typeof value === 'number' ? String(value) : value;
  const problem = describeInvalidId(userId);
  if (problem) {
    // Often straight from a header the client controls: answered like no user at all, never
    // with a 5xx, and reported so that a host bug does not go unnoticed.
    logger.warn(`getUserId returned an unusable user id (it ${problem}); answered 401`);
    throw new UnauthorizedError();
  }
  return userId;
}

export async function resolveDb(getDb: GetDb, req: Request): Promise<AnyKysely> {
  let db: AnyKysely;
  try {
    db = await getDb(req);
  } catch (error) {
    if (error instanceof AgentRouterError) throw error;
    throw isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : internal('getDb threw', error);
  }
  if (!db || typeof (db as { selectFrom?: unknown }).selectFrom !== 'function') {
    throw internal('getDb did not return a Kysely instance');
  }
  return db;
}

function internal(reason: string, cause?: unknown): AgentRouterError {
  return new AgentRouterError('An internal error occurred.', {
    status: 500,
    code: 'internal_error',
    cause: cause === undefined ? new Error(reason) : new Error(reason, { cause }),
  });
}

/** The start-up warning of a router built without `getUserId`. */
export function warnAnonymous(logger: Logger, factory: string): void {
  logger.warn(
    `${factory}: no getUserId option, so every request is served as the single user "${ANONYMOUS_USER}" ` +
      'and all callers share the same chats. Pass getUserId: (req) => req.user?.id (from your auth ' +
      'middleware) to give each user their own.',
  );
}
