import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { idSchema } from '../http/validation.js';

/**
 * Opaque page cursors: base64url of a small JSON object. They hold the sort key of the last
 * entry returned, so the next page starts right after it (keyset pagination: stable when rows
 * are added, changed or deleted between pages, and O(limit) through the index).
 */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Which query parameter carried the cursor, and which answer field it comes from. */
export interface CursorNames {
  param: string;
  field: string;
}

const NEXT_PAGE: CursorNames = { param: 'cursor', field: 'next_cursor' };

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>, names: CursorNames = NEXT_PAGE): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformed(names);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw malformed(names);
  return result.data;
}

function malformed({ param, field }: CursorNames) {
  return new InvalidRequestError(`The ${param} is malformed; pass a ${field} returned by a previous page.`, [
    { path: [param], message: 'Malformed cursor' },
  ]);
}

/** Largest time a JavaScript Date can hold, in ms: a cursor beyond it is forged. */
const MAX_TIME = 8.64e15;

/**
 * Cursors come from clients, so they are checked as strictly as any input: every value must be
 * one the database column can hold, or a forged cursor would reach SQL and fail there (500).
 */

/** Chats page by (updated_at, id), newest first. `t` is milliseconds since the epoch. */
export const chatCursor = z.strictObject({ t: z.number().int().min(0).max(MAX_TIME), i: idSchema });

const position = z.number().int().min(0).max(2 ** 31 - 1);

/** Items page by position (an integer column), oldest first. */
export const itemCursor = z.strictObject({ p: position });

/**
 * The readable conversation pages back by position, newest first: `b` is the oldest position
 * already shown. Its own key, so that an items cursor (which means "after") is not taken for it.
 */
export const olderItemCursor = z.strictObject({ b: position });

/** Runs page by (started_at, id), newest first. */
export const runCursor = z.strictObject({ t: z.number().int().min(0).max(MAX_TIME), i: z.uuid() });
