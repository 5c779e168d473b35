import type { Request, RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { AnyKysely } from '../db/schema.js';
import {
  ChatNotFoundError,
  InvalidRequestError,
  PayloadTooLargeError,
  PreconditionFailedError,
  SessionBusyError,
} from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { boundedJsonObject, noQuerySchema, parseRequest } from '../http/validation.js';
import { applyMergePatch } from '../state/merge-patch.js';
import { MAX_STATE_BYTES, TEMP_PREFIX, USER_PREFIX } from '../state/session-state.js';
import { readState, stateTag, writeState, type StoredState } from '../state/state-queries.js';
import { chatIdParamsSchema } from './chat-schemas.js';
import type { ChatStore } from './chat-store.js';

/** `GET` and `PATCH /chats/:id/state`'s body: the chat's state and its owner's. */
export interface ChatStateBody {
  state: Record<string, unknown>;
  /** The user's state, shared by all their chats (a run sees these keys as `user:<key>`). */
  user_state: Record<string, unknown>;
}

/** `PATCH /chats/:id/state`: a JSON merge patch (RFC 7396) of `{ state, user_state }`. */
export const patchStateBodySchema = z.strictObject({
  state: boundedJsonObject(MAX_STATE_BYTES, 32).optional(),
  user_state: boundedJsonObject(MAX_STATE_BYTES, 32).optional(),
});

export interface ChatStateRoutesContext {
  context(req: Request): Promise<{ userId: string; store: ChatStore; db: AnyKysely }>;
  body: RequestHandler;
}

/**
 * The session state endpoints: read a chat's state (and its owner's) with an ETag, and change
 * it with a JSON merge patch under `If-Match`. Owner only (404 for anyone else, as for a missing
 * chat); refused with 409 while a run holds the chat, since the run writes the state with its
 * turn.
 */
export function addChatStateRoutes(router: Router, { context, body }: ChatStateRoutesContext): void {
  async function resolve(req: Request) {
    const { id } = parseRequest(chatIdParamsSchema, req.params, 'path');
    const { userId, store, db } = await context(req);
    const stored = (await store.getChat(userId, id)) && (await readState(db, id, userId));
    if (!stored) throw new ChatNotFoundError();
    return { id, userId, db, stored };
  }
  const answer = (res: Parameters<Parameters<typeof asyncHandler>[0]>[1], stored: StoredState) => {
    res.setHeader('ETag', stateTag(stored));
    res.json({ state: stored.state, user_state: stored.userState } satisfies ChatStateBody);
  };

  router.get(
    '/chats/:id/state',
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const { stored } = await resolve(req);
      answer(res, stored);
    }),
  );

  router.patch(
    '/chats/:id/state',
    body,
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const patch = parseRequest(patchStateBodySchema, req.body ?? {}, 'body');
      for (const key of Object.keys(patch.state ?? {})) {
        if (key.startsWith(USER_PREFIX) || key.startsWith(TEMP_PREFIX)) {
          throw new InvalidRequestError(`Invalid body: state.${key}: chat keys cannot start with "${USER_PREFIX}" or "${TEMP_PREFIX}"; put user keys in user_state.`, [
            { path: ['state', key], code: 'custom', message: 'Reserved prefix' },
          ]);
        }
      }
      const { id, userId, db, stored } = await resolve(req);
      const ifMatch = req.header('if-match');
      if (ifMatch !== undefined && ifMatch.trim() !== '*' && !ifMatch.split(',').map((tag) => tag.trim()).includes(stateTag(stored))) {
        throw new PreconditionFailedError();
      }
      if (stored.leaseRunId) throw new SessionBusyError(stored.leaseRunId, 'A run holds this chat; its state changes with the run. Retry once it ends.');
      const state = patch.state === undefined ? undefined : (applyMergePatch(stored.state, patch.state) as Record<string, unknown>);
      const userState = patch.user_state === undefined ? undefined : (applyMergePatch(stored.userState, patch.user_state) as Record<string, unknown>);
      for (const [name, value] of [['state', state], ['user_state', userState]] as const) {
        if (value !== undefined && Buffer.byteLength(JSON.stringify(value)) > MAX_STATE_BYTES) {
          throw new PayloadTooLargeError(`The ${name} would be over ${MAX_STATE_BYTES} bytes of JSON.`);
        }
      }
      const written = await writeState(db, { chatId: id, userId, expected: stored, state, userState });
      if (written === 'missing') throw new ChatNotFoundError();
      if (written === 'busy') throw new SessionBusyError(null, 'A run holds this chat; its state changes with the run. Retry once it ends.');
      if (written === 'changed') throw new PreconditionFailedError();
      answer(res, (await readState(db, id, userId))!);
    }),
  );

  router.all('/chats/:id/state', methodNotAllowed('GET', 'PATCH'));
}
