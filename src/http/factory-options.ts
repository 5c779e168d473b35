import { z } from 'zod';
import { ConfigurationError } from '../errors.js';

/** A function, for option schemas (zod 4's z.function() is not a schema). */
export const functionOption = <T extends (...args: never[]) => unknown>() =>
  z.custom<T>((value) => typeof value === 'function', 'must be a function');

/** Where a router's endpoints are mounted: '/memories', '/ops/health'... */
export const pathOption = z
  .string()
  .regex(/^(\/[A-Za-z0-9._~-]+)+$/, "must start with '/', not end with one, and hold only letters, digits and . _ ~ - between slashes");

export const loggerOption = z.custom<{ warn: unknown; error: unknown }>(
  (value) =>
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { warn?: unknown }).warn === 'function' &&
    typeof (value as { error?: unknown }).error === 'function',
  'must have warn() and error() methods, like console',
);

/**
 * Validates a factory's options once, at start-up. Anything wrong (an unknown option, a wrong
 * type) throws a ConfigurationError whose message names the option and what to pass instead.
 */
export function parseOptions<T>(factory: string, schema: z.ZodType<T>, options: unknown): T {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new ConfigurationError(`${factory}: options must be an object, got ${describe(options)}.`);
  }
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
      return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')} (known options: ${known})`;
    }
    return `option "${issue.path.join('.')}" ${issue.message}`;
  });
  throw new ConfigurationError(`${factory}: ${problems.join('; ')}.`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
