import { InvalidArgumentError } from '../errors.js';

/** The longest id the `varchar(255)` id columns accept, counted in characters (code points). */
export const MAX_ID_LENGTH = 255;

/**
 * Why `value` cannot be used as a session (chat) or user id, or `undefined` when it can.
 *
 * PostgreSQL text cannot hold U+0000, and `pg` would silently replace a lone surrogate with
 * U+FFFD (so two different ids would name the same row): both are refused here, before any SQL.
 */
export function describeInvalidId(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (countCodePoints(value) > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  if (value.includes('\u0000')) return 'must not contain the character U+0000';
  if (!value.isWellFormed()) return 'must be well-formed Unicode (no lone surrogates)';
  return undefined;
}

export function assertValidId(value: unknown, name: string): asserts value is string {
  const problem = describeInvalidId(value);
  if (problem) throw new InvalidArgumentError(`${name} ${problem}.`);
}

function countCodePoints(value: string): number {
  // Fast path: only strings with surrogate pairs have fewer code points than UTF-16 units.
  if (value.length <= MAX_ID_LENGTH) return value.length;
  let count = 0;
  for (const _ of value) count++;
  return count;
}
