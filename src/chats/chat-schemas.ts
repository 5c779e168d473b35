import { z } from 'zod';
import { boundedJsonObject, idSchema, limitParam, storableText } from '../http/validation.js';

/**
 * The request schemas of the chat router, exported for hosts that want to validate the same
 * shapes (in their own routes, or in a client). Every schema refuses unknown fields.
 */

/** A chat title: at most 500 characters. */
export const chatTitleSchema = storableText(500);

/** Chat metadata: a JSON object of at most 16 KiB, nested at most 16 levels. */
export const chatMetadataSchema = boundedJsonObject(16 * 1024, 16);

/** `POST /chats` */
export const createChatBodySchema = z.strictObject({
  title: chatTitleSchema.nullable().optional(),
  metadata: chatMetadataSchema.optional(),
});

/** `PUT /chats/:id`: `"conversation": null` clears the history and keeps the chat. */
export const updateChatBodySchema = z.strictObject({
  title: chatTitleSchema.nullable().optional(),
  metadata: chatMetadataSchema.optional(),
  conversation: z.null().optional(),
});

/** `:id` in every `/chats/:id...` path. */
export const chatIdParamsSchema = z.strictObject({ id: idSchema });

/** A page cursor as returned in `next_cursor`. */
export const cursorSchema = z.string().min(1).max(1024);

/** `GET /chats?limit=&cursor=` (limit 1..100, default 20) */
export const listChatsQuerySchema = z.strictObject({
  limit: limitParam(100).default(20),
  cursor: cursorSchema.optional(),
});

/**
 * `GET /chats/:id?limit=&before=`: the newest `limit` items of the conversation (1..1000, default
 * 100), or the newest ones older than `before` (an `older_cursor` from a previous answer).
 */
export const readChatQuerySchema = z.strictObject({
  limit: limitParam(1000).default(100),
  before: cursorSchema.optional(),
});

/** `GET /chats/:id/items?limit=&cursor=` (limit 1..1000, default 100) */
export const listItemsQuerySchema = z.strictObject({
  limit: limitParam(1000).default(100),
  cursor: cursorSchema.optional(),
});

/** `GET /chats/:id/runs?limit=&cursor=` (limit 1..100, default 20) */
export const listRunsQuerySchema = z.strictObject({
  limit: limitParam(100).default(20),
  cursor: cursorSchema.optional(),
});

export type CreateChatBody = z.infer<typeof createChatBodySchema>;
export type UpdateChatBody = z.infer<typeof updateChatBodySchema>;
