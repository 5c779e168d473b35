import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import type { AnyKysely } from '../db/schema.js';
import { ChatNotFoundError, ConfigurationError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { describe, functionOption, loggerOption, parseOptions } from '../http/factory-options.js';
import { jsonBody } from '../http/json-body.js';
import { emptySegmentUnder, endpointNotFound, methodNotAllowed } from '../http/method-not-allowed.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import { resolveDb, resolveUserId, warnAnonymous, type GetDb, type GetUserId } from '../http/request-context.js';
import { noQuerySchema, parseRequest } from '../http/validation.js';
import { chatJson, runJson } from './chat-json.js';
import { addChatRunRoutes } from './chat-run-routes.js';
import { addChatStateRoutes } from './chat-state-routes.js';
import { initialStateOption, resolveInitialState, type InitialState } from '../state/initial-state.js';
import type { ChatListBody, ChatWithConversationBody, ItemsPageBody, RunsPageBody } from './chat-payloads.js';
import {
  chatIdParamsSchema,
  createChatBodySchema,
  listChatsQuerySchema,
  listItemsQuerySchema,
  listRunsQuerySchema,
  readChatQuerySchema,
  updateChatBodySchema,
} from './chat-schemas.js';
import type { CreateStore } from './chat-store.js';
import { toConversation } from './conversation-view.js';
import { PostgresChatStore } from './postgres-chat-store.js';

export interface ChatRouterOptions {
  /**
   * Who is calling: `(req) => req.user?.id`, sync or async. Returning nothing answers 401.
   * Defaults to a single owner, "anonymous", with a warning at start-up: without it every
   * caller shares the same chats.
   */
  getUserId?: GetUserId;
  /** Where warnings and 5xx errors are reported. Defaults to `console`. */
  logger?: Logger;
  /** The store behind the endpoints. Defaults to `(db) => new PostgresChatStore({ db })`. */
  createStore?: CreateStore;
  /**
   * Largest accepted JSON body, when the router parses it (it leaves bodies your own
   * `express.json()` already parsed alone). Defaults to `'1mb'`.
   */
  bodyLimit?: string | number;
  /** Interval of the comment line that keeps idle follower streams open. Defaults to 15 s. */
  heartbeatMs?: number;
  /**
   * The session state a chat created with `POST /chats` starts with: an object, or
   * `(req) => object`. Defaults to `{}`. (The agent router has the same option for the chats its
   * runs create.)
   */
  initialState?: InitialState;
}

const optionsSchema = z.strictObject({
  getUserId: functionOption<GetUserId>().optional(),
  logger: loggerOption.optional(),
  createStore: functionOption<CreateStore>().optional(),
  bodyLimit: z.union([z.string().min(1), z.number().int().positive()]).optional(),
  heartbeatMs: z.number().int().min(10).optional(),
  initialState: initialStateOption.optional(),
});

/**
 * The `/chats` endpoints: create, list, read, rename, clear and delete a user's conversations,
 * page through their stored items and their runs, read, follow and cancel a run from any
 * instance, and follow a chat's active run.
 *
 * ```ts
 * import express from 'express';
 * import { createChatRouter } from 'express-agent-router';
 *
 * const app = express();
 * app.use(createChatRouter(() => db, { getUserId: (req) => req.user?.id }));
 * ```
 */
export function createChatRouter(getDb: GetDb, options?: ChatRouterOptions): Router {
  if (typeof getDb !== 'function') {
    throw new ConfigurationError(
      `createChatRouter(getDb, options): getDb must be a function (req) => Kysely, got ${describe(getDb)}. ` +
        'Pass () => db to use one database for every request.',
    );
  }
  const config = parseOptions('createChatRouter', optionsSchema, options);
  const logger = (config.logger as Logger | undefined) ?? consoleLogger;
  if (!config.getUserId) warnAnonymous(logger, 'createChatRouter');
  const createStore: CreateStore = config.createStore ?? ((db) => new PostgresChatStore({ db }));
  const body = jsonBody(config.bodyLimit ?? '1mb');

  async function context(req: Request) {
    const userId = await resolveUserId(config.getUserId, req, logger);
    const db = await resolveDb(getDb, req);
    return { userId, store: createStore(db, req), db };
  }
  const chatId = (req: Request) => parseRequest(chatIdParamsSchema, req.params, 'path').id;

  const router = express.Router();

  router.post(
    '/chats',
    body,
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const input = parseRequest(createChatBodySchema, req.body ?? {}, 'body');
      const { userId, store } = await context(req);
      const chat = await store.createChat(userId, { ...input, state: await resolveInitialState(config.initialState, req) });
      // Only an explicit id can collide, and this route never passes one.
      if (!chat) throw new Error('createChat returned no chat for a generated id');
      res.status(201).json(chatJson(chat));
    }),
  );

  router.get(
    '/chats',
    asyncHandler(async (req, res) => {
      const query = parseRequest(listChatsQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      const page = await store.listChats(userId, query);
      res.json({ chats: page.entries.map(chatJson), next_cursor: page.nextCursor } satisfies ChatListBody);
    }),
  );

  router.get(
    '/chats/:id',
    asyncHandler(async (req, res) => {
      const id = chatId(req);
      const query = parseRequest(readChatQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      // The page first: a malformed cursor is refused before any SQL.
      const page = await store.readConversation(userId, id, query);
      const chat = page && (await store.getChat(userId, id));
      if (!page || !chat) throw new ChatNotFoundError();
      res.json({
        ...chatJson(chat),
        conversation: toConversation(page.entries),
        older_cursor: page.olderCursor,
      } satisfies ChatWithConversationBody);
    }),
  );

  router.get(
    '/chats/:id/items',
    asyncHandler(async (req, res) => {
      const id = chatId(req);
      const query = parseRequest(listItemsQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      const page = await store.listItems(userId, id, query);
      if (!page) throw new ChatNotFoundError();
      res.json({ items: page.entries.map((entry) => entry.item), next_cursor: page.nextCursor } satisfies ItemsPageBody);
    }),
  );

  router.get(
    '/chats/:id/runs',
    asyncHandler(async (req, res) => {
      const id = chatId(req);
      const query = parseRequest(listRunsQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      const page = await store.listRuns(userId, id, query);
      if (!page) throw new ChatNotFoundError();
      res.json({ runs: page.entries.map(runJson), next_cursor: page.nextCursor } satisfies RunsPageBody);
    }),
  );

  router.put(
    '/chats/:id',
    body,
    asyncHandler(async (req, res) => {
      const id = chatId(req);
      parseRequest(noQuerySchema, req.query, 'query');
      const input = parseRequest(updateChatBodySchema, req.body ?? {}, 'body');
      const { userId, store } = await context(req);
      if (input.conversation === null && !(await store.clearConversation(userId, id))) {
        throw new ChatNotFoundError();
      }
      const changes = {
        ...(input.title !== undefined ? { title: input.title } : {}),
        ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
      };
      const chat = Object.keys(changes).length
        ? await store.updateChat(userId, id, changes)
        : await store.getChat(userId, id);
      if (!chat) throw new ChatNotFoundError();
      res.json(chatJson(chat));
    }),
  );

  router.delete(
    '/chats/:id',
    asyncHandler(async (req, res) => {
      const id = chatId(req);
      parseRequest(noQuerySchema, req.query, 'query');
      const { userId, store } = await context(req);
      if (!(await store.deleteChat(userId, id))) throw new ChatNotFoundError();
      res.status(204).end();
    }),
  );

  addChatRunRoutes(router, { context, heartbeatMs: config.heartbeatMs ?? 15_000, logger });
  addChatStateRoutes(router, { context, body });

  router.all('/chats', methodNotAllowed('GET', 'POST'));
  router.all('/chats/:id', methodNotAllowed('GET', 'PUT', 'DELETE'));
  router.all('/chats/:id/items', methodNotAllowed('GET'));
  router.all('/chats/:id/runs', methodNotAllowed('GET'));
  // An empty id (/chats//items, /chats/x/runs//stream) matches no route above: a 404 in the
  // envelope, not the host's page.
  router.all(emptySegmentUnder('/chats'), endpointNotFound());
  router.use(errorMiddleware(logger));
  return router;
}
