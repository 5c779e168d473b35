import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';

/**
 * Opaque page cursors: base64url of a small JSON object. They hold the sort key of the last
 * entry returned, so the next page starts right after it (keyset pagination: stable when rows
 * are added, changed or deleted between pages, and O(limit) through the index).
 */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw malformed();
  return result.data;
}

function malformed() {
  return new InvalidRequestError('The cursor is malformed; pass a next_cursor returned by a previous page.', [
    { path: ['cursor'], message: 'Malformed cursor' },
  ]);
}

/** Chats page by (updated_at, id), newest first. `t` is milliseconds since the epoch. */
export const chatCursor = z.strictObject({ t: z.number().int().nonnegative(), i: z.string().min(1).max(255) });

/** Items page by position, oldest first. */
export const itemCursor = z.strictObject({ p: z.number().int() });

/** Runs page by (started_at, id), newest first. */
export const runCursor = z.strictObject({ t: z.number().int().nonnegative(), i: z.uuid() });
