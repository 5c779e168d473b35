import { InvalidArgumentError } from '../errors.js';

/**
 * How a JSON value is written to a jsonb column without loss.
 *
 * jsonb refuses two things JavaScript strings can hold: U+0000, and a lone UTF-16 surrogate.
 * `JSON.stringify` writes both as `\u` escapes, so when one shows up the value is stored as a
 * jsonb *string* holding the value's JSON text instead. Stored items are always objects, so a
 * string read back can only mean this wrapping. The test may also match an escaped backslash
 * followed by "u0000"; wrapping such a value is harmless, just not needed.
 */
const UNSTORABLE_IN_JSONB = /\\u0000|\\ud[89a-f]/i;

/** JSON text to bind as a `jsonb` parameter. Throws InvalidArgumentError for non-JSON values. */
export function encodeJson(value: unknown, what = 'value'): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(
      `The ${what} cannot be serialised as JSON: ${(error as Error).message}`,
    );
  }
  if (json === undefined) {
    throw new InvalidArgumentError(`The ${what} cannot be serialised as JSON.`);
  }
  const stored = UNSTORABLE_IN_JSONB.test(json) ? JSON.stringify(json) : json;
  // An escaped backslash is written as \u005c, which means the same to any JSON parser: pg-mem
  // rejects the usual form when a space follows it.
  return stored.includes('\\\\') ? stored.replace(/\\\\/g, '\\u005c') : stored;
}

/** Reverses {@link encodeJson} for a value read from a jsonb column holding objects. */
export function decodeJsonObject<T>(stored: unknown): T {
  return (typeof stored === 'string' ? JSON.parse(stored) : stored) as T;
}

/**
 * Reverses {@link encodeJson} for a column whose values may legitimately be strings (a run's
 * input or final output). Those are wrapped the same way, so the marker must be unambiguous:
 * such columns store `{ "v": value }` envelopes, see {@link encodeTaggedJson}.
 */
export function encodeTaggedJson(value: unknown, what = 'value'): string {
  return encodeJson({ v: value }, what);
}

export function decodeTaggedJson<T>(stored: unknown): T | null {
  if (stored === null || stored === undefined) return null;
  const envelope = decodeJsonObject<{ v: T }>(stored);
  return envelope.v;
}
