import type { Request, Router } from 'express';
import { z } from 'zod';
import type { AnyKysely } from '../db/schema.js';
import { AgentRouterError, ChatNotFoundError, InvalidRequestError, RunNotFoundError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import type { Logger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { sendRunEvents } from '../http/run-event-stream.js';
import { noQuerySchema, parseRequest } from '../http/validation.js';
import { followRun } from '../runs/follow-run.js';
import { cancelRun } from '../runs/run-control.js';
import { runJson } from './chat-json.js';
import type { CancelRunBody } from './chat-payloads.js';
import { chatIdParamsSchema } from './chat-schemas.js';
import type { ChatStore } from './chat-store.js';

/** What the run endpoints need from the chat router. */
export interface ChatRunRoutesContext {
  context(req: Request): Promise<{ userId: string; store: ChatStore; db: AnyKysely }>;
  heartbeatMs: number;
  logger: Logger;
}

const MAX_EVENT_ID = 2 ** 31 - 1;
/** An event id as `?after=` and `Last-Event-ID` give it. */
export const eventId = z.coerce.number().int().min(0).max(MAX_EVENT_ID);

/** `:id` and `:run_id` of `/chats/:id/runs/:run_id...` (a run id is a UUID). */
export const runParamsSchema = z.strictObject({ id: chatIdParamsSchema.shape.id, run_id: z.uuid() });
/** `?after=N`: replay the events after id N (the `Last-Event-ID` header says the same). */
export const followQuerySchema = z.strictObject({ after: eventId.optional() });

/**
 * The run endpoints of the chat router: read a run, follow its events from any instance, cancel
 * it from any instance, and follow the chat's active run. Owner only: another user's chat is
 * answered exactly like a missing one (404 `chat_not_found`), as on every chat endpoint.
 */
export function addChatRunRoutes(router: Router, { context, heartbeatMs, logger }: ChatRunRoutesContext): void {
  /** The caller's chat (404 otherwise) and, when a run id is in the path, its run. */
  async function resolve(req: Request, withRun: boolean) {
    const params = withRun
      ? parseRequest(runParamsSchema, req.params, 'path')
      : { ...parseRequest(chatIdParamsSchema, req.params, 'path'), run_id: undefined };
    const { userId, store, db } = await context(req);
    const chat = await store.getChat(userId, params.id);
    if (!chat) throw new ChatNotFoundError();
    const run = params.run_id === undefined ? undefined : await store.getRun(userId, params.id, params.run_id);
    if (params.run_id !== undefined && !run) throw new RunNotFoundError();
    return { chat, run, db };
  }

  /** Streams the run's events after `afterId`, the client's last one (header or query). */
  async function follow(req: Request, res: Parameters<Parameters<typeof asyncHandler>[0]>[1], db: AnyKysely, runId: string, afterId: number) {
    if (db.isTransaction) {
      throw new AgentRouterError('An internal error occurred.', {
        status: 500,
        code: 'internal_error',
        cause: new Error('getDb returned a transaction: following a run needs the database itself, since it outlives the transaction.'),
      });
    }
    await sendRunEvents(req, res, heartbeatMs, (onEvent, signal) => followRun({ db, runId, afterId, logger, onEvent, signal }));
  }

  router.get(
    '/chats/:id/runs/:run_id',
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const { run } = await resolve(req, true);
      res.json(runJson(run!));
    }),
  );

  router.get(
    '/chats/:id/runs/:run_id/stream',
    asyncHandler(async (req, res) => {
      const afterId = lastEventId(req);
      const { run, db } = await resolve(req, true);
      await follow(req, res, db, run!.id, afterId);
    }),
  );

  router.post(
    '/chats/:id/runs/:run_id/cancel',
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const { run, db } = await resolve(req, true);
      const status = await cancelRun(db, run!.chatId, run!.id);
      res.status(status === 'cancelled' ? 200 : 202).json({ run_id: run!.id, status } satisfies CancelRunBody);
    }),
  );

  router.get(
    '/chats/:id/stream',
    asyncHandler(async (req, res) => {
      const afterId = lastEventId(req);
      const { chat, db } = await resolve(req, false);
      const runId = chat.activeRunId;
      // Nothing to resume (what useChat's resume expects).
      if (!runId) return void res.status(204).end();
      await follow(req, res, db, runId, afterId);
    }),
  );

  router.all('/chats/:id/runs/:run_id', methodNotAllowed('GET'));
  router.all('/chats/:id/runs/:run_id/stream', methodNotAllowed('GET'));
  router.all('/chats/:id/runs/:run_id/cancel', methodNotAllowed('POST'));
  router.all('/chats/:id/stream', methodNotAllowed('GET'));
}

/** The id of the last event the client saw: `?after=N`, or the `Last-Event-ID` header (0: none). */
function lastEventId(req: Request): number {
  const { after } = parseRequest(followQuerySchema, req.query, 'query');
  const header = req.header('last-event-id');
  if (header === undefined || header === '') return after ?? 0;
  const parsed = eventId.safeParse(header.trim());
  if (!parsed.success) {
    throw new InvalidRequestError('Invalid Last-Event-ID header: it must be the id of an event of this run (an integer).', [
      { path: ['Last-Event-ID'], code: 'custom', message: 'Must be an integer from 0' },
    ]);
  }
  return Math.max(parsed.data, after ?? 0);
}
