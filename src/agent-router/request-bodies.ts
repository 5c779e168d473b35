import { protocol } from '@openai/agents';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { idSchema, jsonDepth, parseRequest, storableText } from '../http/validation.js';
import type { ApprovalDecision } from '../runs/run-control.js';
import type { RunRequestBody } from '../runs/run-payloads.js';

/** Largest accepted nesting of a body, before any schema walks it. */
const MAX_DEPTH = 64;

/**
 * `POST {prefix}/run` and `POST {prefix}/stream`, for hosts that validate the same body
 * elsewhere. Typed by its plain body type, so that the declaration files stay readable.
 */
export const runBodySchema: z.ZodType<RunRequestBody> = z.strictObject({
  input: z.union([z.string().min(1), z.array(protocol.ModelItem).min(1).max(1000)]),
  session_id: idSchema.optional(),
  background: z.boolean().optional(),
});

/** `POST {prefix}/runs/:run_id/approvals`: decisions on the calls a run waits for. */
export interface DecisionsRequestBody {
  decisions: ApprovalDecision[];
  /** Answer as `/stream` does (the resumed run's events) instead of as `/run`. */
  stream?: boolean;
}

export const decisionsBodySchema: z.ZodType<DecisionsRequestBody> = z.strictObject({
  decisions: z
    .array(
      z.strictObject({
        call_id: z.string().min(1).max(255),
        approved: z.boolean(),
        always: z.boolean().optional(),
        message: storableText(10_000).optional(),
      }),
    )
    .min(1)
    .max(100),
  stream: z.boolean().optional(),
});

/** `:run_id` in `{prefix}/runs/:run_id/...`. */
export const runIdParamsSchema = z.strictObject({ run_id: z.uuid() });

/** Parses a run body; a list input holds user messages only unless `acceptAnyItem`. */
export function parseRunBody(body: unknown, acceptAnyItem: boolean): RunRequestBody {
  const parsed = parseRequest(runBodySchema, shallow(body), 'body');
  if (!acceptAnyItem && Array.isArray(parsed.input)) {
    const index = parsed.input.findIndex((item) => !('role' in item && item.role === 'user'));
    if (index >= 0) {
      throw new InvalidRequestError(
        `Invalid body: input.${index} is not a user message. Only user messages are accepted here (the router's acceptInputItems option).`,
        [{ path: ['input', index], code: 'custom', message: 'Only user messages are accepted' }],
      );
    }
  }
  return parsed;
}

export function parseDecisionsBody(body: unknown): DecisionsRequestBody {
  return parseRequest(decisionsBodySchema, shallow(body), 'body');
}

/** The body, refused before any schema walks it when it is nested too deep. */
function shallow(body: unknown): unknown {
  if (jsonDepth(body) > MAX_DEPTH) {
    throw new InvalidRequestError(`Invalid body: it must not be nested deeper than ${MAX_DEPTH} levels.`);
  }
  return body ?? {};
}
