import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { ConfigurationError, EndpointNotFoundError, MemoryNotFoundError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { describe, functionOption, loggerOption, parseOptions, pathOption } from '../http/factory-options.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { resolveDb, resolveUserId, warnAnonymous, type GetDb, type GetUserId } from '../http/request-context.js';
import { noQuerySchema, parseRequest } from '../http/validation.js';
import { listMemoriesQuerySchema, memoryIdParamsSchema, type MemoriesDeletedBody, type MemoryBody, type MemoryListBody } from './memory-schemas.js';
import { PostgresMemoryStore, type Memory } from './postgres-memory-store.js';

export interface MemoryRouterOptions {
  /**
   * Who is calling: `(req) => req.user?.id`, sync or async, as for the chat router; returning
   * nothing answers 401. Defaults to a single owner, "anonymous", with a warning at start-up.
   */
  getUserId?: GetUserId;
  /** Where the endpoints are mounted. Defaults to `'/memories'`. */
  path?: string;
  /** Where warnings and 5xx errors are reported. Defaults to `console`. */
  logger?: Logger;
}

const optionsSchema = z.strictObject({
  getUserId: functionOption<GetUserId>().optional(),
  path: pathOption.optional(),
  logger: loggerOption.optional(),
});

/**
 * The owner's view of their memories: `GET /memories` (newest first, paged),
 * `DELETE /memories/:memory_id` and `DELETE /memories` (everything). A user can always see and
 * erase what is remembered about them; another user's memory is answered 404 exactly like a
 * missing one.
 *
 * ```ts
 * import express from 'express';
 * import { createMemoryRouter } from 'express-agent-router';
 *
 * const app = express();
 * app.use(createMemoryRouter(() => db, { getUserId: (req) => req.user?.id }));
 * ```
 */
export function createMemoryRouter(getDb: GetDb, options?: MemoryRouterOptions): Router {
  if (typeof getDb !== 'function') {
    throw new ConfigurationError(
      `createMemoryRouter(getDb, options): getDb must be a function (req) => Kysely, got ${describe(getDb)}. ` +
        'Pass () => db to use one database for every request.',
    );
  }
  const config = parseOptions('createMemoryRouter', optionsSchema, options);
  const logger = (config.logger as Logger | undefined) ?? consoleLogger;
  if (!config.getUserId) warnAnonymous(logger, 'createMemoryRouter');
  const path = config.path ?? '/memories';

  async function context(req: Request) {
    const userId = await resolveUserId(config.getUserId, req, logger);
    const db = await resolveDb(getDb, req);
    return { userId, store: new PostgresMemoryStore({ db }) };
  }

  const router = express.Router();

  router.get(
    path,
    asyncHandler(async (req, res) => {
      const query = parseRequest(listMemoriesQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      const page = await store.listMemories(userId, query);
      res.json({ memories: page.entries.map(memoryJson), next_cursor: page.nextCursor } satisfies MemoryListBody);
    }),
  );

  router.delete(
    path,
    asyncHandler(async (req, res) => {
      // Express lets `/memories/` match this route: that is `DELETE /memories/:memory_id` with the
      // id left out, which must not forget everything.
      if (req.path.endsWith('/')) throw new EndpointNotFoundError(req.path);
      parseRequest(noQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      res.json({ deleted: await store.deleteAllMemories(userId) } satisfies MemoriesDeletedBody);
    }),
  );

  router.delete(
    `${path}/:memory_id`,
    asyncHandler(async (req, res) => {
      const { memory_id: memoryId } = parseRequest(memoryIdParamsSchema, req.params, 'path');
      parseRequest(noQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      if (!(await store.deleteMemory(userId, memoryId))) throw new MemoryNotFoundError();
      res.status(204).end();
    }),
  );

  router.all(path, methodNotAllowed('GET', 'DELETE'));
  router.all(`${path}/:memory_id`, methodNotAllowed('DELETE'));
  router.use(errorMiddleware(logger));
  return router;
}

/** How a memory looks in HTTP answers. */
export function memoryJson(memory: Memory): MemoryBody {
  return {
    memory_id: memory.id,
    content: memory.content,
    metadata: memory.metadata,
    importance: memory.importance,
    agent_name: memory.agentName,
    chat_id: memory.chatId,
    run_id: memory.runId,
    created_at: memory.createdAt.toISOString(),
    last_used_at: memory.lastUsedAt?.toISOString() ?? null,
  };
}
