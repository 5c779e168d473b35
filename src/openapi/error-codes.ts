import { z } from 'zod';

/**
 * Every error code an endpoint can answer, with its status and the shape of its `details`, as
 * the OpenAPI document shows them: each code is a component (`SessionBusyError`...) holding the
 * JSON error envelope with that `code`, and each operation lists the codes it can answer under
 * their statuses. A test checks this table against the error classes of src/errors.ts.
 */

interface ErrorCodeSpec {
  status: number;
  /** When the code is answered. */
  description: string;
  /** The schema of `details`; without it, the envelope has no `details`. */
  details?: z.ZodType;
}

const issues = z
  .array(
    z.strictObject({
      path: z.array(z.union([z.string(), z.number()])),
      code: z.string().optional(),
      message: z.string(),
    }),
  )
  .optional()
  .describe('The problems found (zod issues), when the request was parsed far enough to list them.');

export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    description: 'The body, query, path or a header is malformed (not JSON, unknown fields, wrong types, out of range). Nothing was changed.',
    details: issues,
  },
  unauthorized: { status: 401, description: "The router's `getUserId` returned nobody, or an id that cannot be stored." },
  forbidden: { status: 403, description: "The metrics router's `authorize` refused the request." },
  chat_not_found: { status: 404, description: "The chat does not exist, or is another user's (answered alike, so ids cannot be probed)." },
  run_not_found: {
    status: 404,
    description: "The run does not exist, is not the caller's, or (for decisions) started on another prefix.",
  },
  memory_not_found: {
    status: 404,
    description: "The memory does not exist, or is another user's (answered alike, so ids cannot be probed).",
  },
  not_found: { status: 404, description: 'A path under /chats/ that no endpoint serves, such as an empty id.' },
  method_not_allowed: { status: 405, description: 'A method the path does not serve; `Allow` says which it does.' },
  approval_pending: {
    status: 409,
    description: 'A run on the chat waits for tool approvals: decide it or cancel it first.',
    details: z.strictObject({ run_id: z.string() }),
  },
  run_not_awaiting_approval: {
    status: 409,
    description: 'Decisions on a run that does not wait (any more). Nothing was run.',
    details: z.strictObject({ status: z.string().describe("The run's status (`deleted` if it went meanwhile).") }),
  },
  run_cancelled: { status: 409, description: 'The run was cancelled from elsewhere while the request waited.' },
  session_busy: {
    status: 409,
    description: 'Another run holds the chat. `Retry-After: 1` is a polling interval, not a prediction.',
    details: z.strictObject({ run_id: z.string().nullable().describe('The run that holds the chat.') }),
  },
  lease_lost: { status: 409, description: 'The run stalled past its lease and another run took the chat; its turn was not stored.' },
  run_finished: {
    status: 409,
    description: 'Cancelling a run that already ended.',
    details: z.strictObject({ status: z.string().describe('How it ended: `completed` or `failed` (`deleted` if it went meanwhile).') }),
  },
  chat_deleted: { status: 410, description: 'The chat was deleted while the run was going on; its turn was not stored.' },
  precondition_failed: {
    status: 412,
    description: '`If-Match` names another version than the current one: read it again (its `ETag`) and retry. Nothing was changed.',
  },
  payload_too_large: {
    status: 413,
    description: "The body is over the router's `bodyLimit` (or, for a state, the state it would make is over 64 KiB).",
  },
  max_turns_exceeded: { status: 422, description: 'The agent stopped after its maximum number of turns.' },
  guardrail_triggered: {
    status: 422,
    description: 'An input, output or tool guardrail tripped.',
    details: z.strictObject({ guardrail: z.string() }),
  },
  client_disconnected: { status: 499, description: 'The stream client left and the run was aborted (`onDisconnect: "abort"`).' },
  internal_error: { status: 500, description: 'Anything else. The answer carries no stack or SQL; the logger gets the details.' },
  model_error: { status: 502, description: "The model failed, refused or timed out, or the model provider's API failed." },
  database_unavailable: { status: 503, description: 'The database cannot be reached. Nothing was half-written; retry.' },
  shutting_down: { status: 503, description: 'The router is draining before shutdown.' },
  run_timeout: { status: 504, description: "The run went past the router's `runTimeoutMs`." },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The component name of a code's envelope: `session_busy` is `SessionBusyError`. */
export function errorComponentName(code: ErrorCode): string {
  const pascal = code.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
  return pascal.endsWith('Error') ? pascal : `${pascal}Error`;
}

/** The JSON error envelope of one code, as the error middleware answers it. */
export function envelopeOfCode(code: ErrorCode) {
  const spec: ErrorCodeSpec = ERROR_CODES[code];
  return z
    .strictObject({
      success: z.literal(false),
      error: z.strictObject({
        code: z.literal(code),
        message: z.string(),
        ...(spec.details ? { details: spec.details } : {}),
      }),
    })
    .describe(spec.description);
}
