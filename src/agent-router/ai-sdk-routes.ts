import type { Request, RequestHandler, Router } from 'express';
import { z } from 'zod';
import { parseChatRequest } from '../ai-sdk/chat-request.js';
import { toUiMessages } from '../ai-sdk/ui-messages.js';
import type { ChatStore } from '../chats/chat-store.js';
import type { AnyKysely } from '../db/schema.js';
import { ChatNotFoundError, InvalidRequestError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import type { Logger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { sendUiMessageStream } from '../http/ui-message-stream.js';
import { idSchema, limitParam, noQuerySchema, parseRequest } from '../http/validation.js';
import { followRun } from '../runs/follow-run.js';
import { resumeRun } from '../runs/run-control.js';
import { ActiveRun, type RunEngineSettings, type RunIds } from '../runs/run-engine.js';
import type { InFlightRun } from './in-flight-runs.js';

/** What the AI SDK endpoints need from the agent router they are part of. */
export interface AiSdkRoutesContext {
  prefix: string;
  settings: RunEngineSettings;
  heartbeatMs: number;
  logger: Logger;
  requestContext(req: Request): Promise<{
    userId: string;
    db: AnyKysely;
    context: (ids: RunIds) => unknown;
    store: ChatStore | undefined;
    initialState: Record<string, unknown>;
  }>;
  /** The chat store of the request: the host's, or the default one. */
  storeOf(db: AnyKysely, req: Request): ChatStore;
  inFlightRun(start: (entry: InFlightRun) => Promise<ActiveRun>): Promise<ActiveRun>;
}

/** `:chat_id` of `{prefix}/chat/:chat_id/...`. */
export const chatParamsSchema = z.strictObject({ chat_id: idSchema });
/** `GET {prefix}/chat/:chat_id/messages?limit=` (1..10000, default 1000). */
export const messagesQuerySchema = z.strictObject({ limit: limitParam(10_000).default(1_000) });

/**
 * The agent router's endpoints for the AI SDK's `useChat` (the "UI message stream" protocol):
 * `POST {prefix}/chat` (a message, a regeneration, or tool approval answers), `GET
 * {prefix}/chat/:chat_id/stream` (resume) and `GET {prefix}/chat/:chat_id/messages` (the stored
 * history as UIMessage[]).
 */
export function addAiSdkRoutes(router: Router, body: RequestHandler, routes: AiSdkRoutesContext): void {
  const { prefix, settings, heartbeatMs, logger } = routes;

  /** Streams a run as UI message chunks, from `afterId`. */
  const stream = (req: Request, res: Parameters<Parameters<typeof asyncHandler>[0]>[1], db: AnyKysely, runId: string, afterId: number) =>
    sendUiMessageStream(req, res, heartbeatMs, (onEvent, signal) => followRun({ db, runId, afterId, logger, onEvent, signal }));

  router.post(
    `${prefix}/chat`,
    body,
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const request = parseChatRequest(req.body);
      const { userId, db, context, store, initialState } = await routes.requestContext(req);
      if (request.kind === 'approvals') {
        // The decisions go to the run this chat waits on; call ids that are not its pending ones
        // are refused (400) by the resume.
        const chat = await routes.storeOf(db, req).getChat(userId, request.chatId);
        if (!chat) throw new ChatNotFoundError();
        if (!chat.pendingApproval) {
          throw new InvalidRequestError('Invalid body: no tool call of this chat is waiting for approval.', [
            { path: ['messages'], code: 'custom', message: 'No pending approval' },
          ]);
        }
        const runId = chat.pendingApproval.runId;
        const run = await routes.inFlightRun((entry) =>
          resumeRun(settings, { db, userId, runId, decisions: request.decisions, store, context, signal: entry.signal }),
        );
        await stream(req, res, db, run.runId, run.firstEventId - 1);
        return;
      }
      const run = await routes.inFlightRun((entry) =>
        ActiveRun.start(settings, {
          db,
          userId,
          input: request.kind === 'regenerate' ? { regenerate: true } : request.input,
          sessionId: request.chatId,
          mode: 'stream',
          store,
          // useChat makes chat ids on the client: an unknown one is a new chat for the caller.
          autoCreateChats: true,
          context,
          initialState,
          signal: entry.signal,
        }),
      );
      await stream(req, res, db, run.runId, 0);
    }),
  );

  router.get(
    `${prefix}/chat/:chat_id/stream`,
    asyncHandler(async (req, res) => {
      const { chat_id: chatId } = parseRequest(chatParamsSchema, req.params, 'path');
      parseRequest(noQuerySchema, req.query, 'query');
      const { userId, db } = await routes.requestContext(req);
      const chat = await routes.storeOf(db, req).getChat(userId, chatId);
      // An unknown chat (useChat asks on mount, even for an id it just made) and someone else's
      // answer alike: nothing to resume.
      if (!chat?.activeRunId) return void res.status(204).end();
      // The whole turn from its start: the client rebuilds the message from the replay.
      await stream(req, res, db, chat.activeRunId, 0);
    }),
  );

  router.get(
    `${prefix}/chat/:chat_id/messages`,
    asyncHandler(async (req, res) => {
      const { chat_id: chatId } = parseRequest(chatParamsSchema, req.params, 'path');
      const { limit } = parseRequest(messagesQuerySchema, req.query, 'query');
      const { userId, db } = await routes.requestContext(req);
      const store = routes.storeOf(db, req);
      const chat = await store.getChat(userId, chatId);
      const page = chat && (await store.readConversation(userId, chatId, { limit }));
      if (!chat || !page) throw new ChatNotFoundError();
      // The answer still being written: its question is stored only when it ends.
      const active = chat.activeRunId ? await store.getRun(userId, chatId, chat.activeRunId) : undefined;
      res.json({ messages: toUiMessages(page.entries, chat.pendingApproval, active && { runId: active.id, input: active.input }) });
    }),
  );

  router.all(`${prefix}/chat`, methodNotAllowed('POST'));
  router.all(`${prefix}/chat/:chat_id/stream`, methodNotAllowed('GET'));
  router.all(`${prefix}/chat/:chat_id/messages`, methodNotAllowed('GET'));
}
