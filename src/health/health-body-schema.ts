import { z } from 'zod';

/**
 * `GET /health`'s answer as a zod schema, for the OpenAPI document; a type test keeps it equal to
 * `HealthBody` (create-health-router.ts).
 */
export const healthBodySchema = z
  .strictObject({ status: z.enum(['ok', 'unavailable']) })
  .describe('Nothing more than the status: the reason of an `unavailable` goes to the logger, never to the caller.');
