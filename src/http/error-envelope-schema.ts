import { z } from 'zod';
import { errorBodySchema } from '../runs/run-payload-schemas.js';

/**
 * The JSON error envelope (`ErrorEnvelope`, error-middleware.ts) as a zod schema, for the OpenAPI
 * document; a type test keeps the two equal. The document narrows it per error code.
 */
export const errorEnvelopeSchema = z.strictObject({ success: z.literal(false), error: errorBodySchema });
