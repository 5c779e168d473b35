import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { describeInvalidId, MAX_ID_LENGTH } from '../session/session-id.js';

/** Parses `value` with `schema`, or throws a 400 whose details list every zod issue. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidRequestError(
    `Invalid ${what}: ${result.error.issues.map((issue) => describeIssue(issue)).join('; ')}`,
    result.error.issues.map((issue) => ({
      path: issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key)),
      code: issue.code,
      message: issue.message,
    })),
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** A session (chat) id: 1 to 255 characters, no U+0000, no lone surrogate. Checked before any SQL. */
export const idSchema = z
  .string()
  .superRefine((value, context) => {
    const problem = describeInvalidId(value);
    if (problem) context.addIssue({ code: 'custom', message: `Invalid id: ${problem}` });
  })
  // What the refinement checks, for JSON Schema (which counts characters as code points too).
  .meta({ minLength: 1, maxLength: MAX_ID_LENGTH, description: 'An id: 1 to 255 characters, without U+0000 or lone surrogates.' });

/**
 * Text PostgreSQL stores as given: no U+0000 (text cannot hold it) and no lone surrogate (the
 * driver would silently turn it into U+FFFD).
 */
export function storableText(maxLength: number) {
  return z
    .string()
    .max(maxLength)
    .refine((value) => !value.includes('\u0000'), 'must not contain the character U+0000')
    .refine((value) => value.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');
}

/**
 * A JSON object no deeper than `maxDepth` and no larger than `maxBytes` once serialised. The depth
 * is measured without recursion, so a hostile, deeply nested body cannot overflow the stack.
 */
export function boundedJsonObject(maxBytes: number, maxDepth: number) {
  const object = z.custom<Record<string, unknown>>(
    (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
    'must be a JSON object',
  );
  // A custom check has no JSON Schema of its own: this metadata is what the OpenAPI document
  // shows (on the check itself, so that every schema built on it inherits it).
  z.globalRegistry.add(object, {
    type: 'object',
    description: `A JSON object of at most ${maxBytes} bytes, nested at most ${maxDepth} levels.`,
  });
  return object.superRefine((value, context) => {
    if (jsonDepth(value) > maxDepth) {
      context.addIssue({ code: 'custom', message: `must not be nested deeper than ${maxDepth} levels` });
      return;
    }
    const bytes = Buffer.byteLength(JSON.stringify(value));
    if (bytes > maxBytes) {
      context.addIssue({ code: 'custom', message: `must be at most ${maxBytes} bytes of JSON (got ${bytes})` });
    }
  });
}

/** Nesting depth of a JSON value (a scalar is 0), computed with an explicit stack. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** `?limit=` as a string in the query: an integer between 1 and `max`. */
export function limitParam(max: number) {
  return z.coerce.number().int().min(1).max(max);
}

/**
 * The query of an endpoint that takes no query parameters. Every endpoint refuses a parameter it
 * does not know (400), as the list endpoints always have: a misspelt `?limit=` is never silently
 * ignored, and `DELETE /memories?memory_id=...` never deletes every memory. Parsed first, before
 * anything is read or changed.
 */
export const noQuerySchema = z.strictObject({});
