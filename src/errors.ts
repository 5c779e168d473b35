/**
 * The library's one error hierarchy. Every error that can reach an HTTP client carries the
 * status it answers with and a stable snake_case `code`; the error middleware turns it into the
 * JSON envelope `{ success: false, error: { code, message, details? } }`.
 */
export class AgentRouterError extends Error {
  /** HTTP status this error answers with. */
  readonly status: number;
  /** Stable, snake_case identifier clients can branch on. */
  readonly code: string;
  /** Extra machine-readable detail sent to the client (for example zod issues). */
  readonly details?: unknown;

  constructor(
    message: string,
    options: { status?: number; code?: string; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status ?? 500;
    this.code = options.code ?? 'internal_error';
    if (options.details !== undefined) this.details = options.details;
  }
}

/** A factory was called with arguments it cannot work with. Thrown at start-up, never per request. */
export class ConfigurationError extends AgentRouterError {
  constructor(message: string) {
    super(message, { status: 500, code: 'configuration_error' });
  }
}

/** A library function (not an HTTP request) got an argument it cannot accept; nothing was changed. */
export class InvalidArgumentError extends AgentRouterError {
  constructor(message: string) {
    super(message, { status: 400, code: 'invalid_argument' });
  }
}

/** The request body, query or path is malformed; `details` lists what is wrong. */
export class InvalidRequestError extends AgentRouterError {
  constructor(message: string, details?: unknown) {
    super(message, { status: 400, code: 'invalid_request', details });
  }
}

/** No user could be identified for the request. */
export class UnauthorizedError extends AgentRouterError {
  constructor(message = 'Authentication is required.') {
    super(message, { status: 401, code: 'unauthorized' });
  }
}

/** The caller is known but may not use this endpoint (the metrics router's `authorize` said no). */
export class ForbiddenError extends AgentRouterError {
  constructor(message = 'You may not use this endpoint.') {
    super(message, { status: 403, code: 'forbidden' });
  }
}

/**
 * The chat does not exist or belongs to another user. The two cases are deliberately answered the
 * same way, so that chat ids cannot be probed.
 */
export class ChatNotFoundError extends AgentRouterError {
  constructor(message = 'Chat not found.') {
    super(message, { status: 404, code: 'chat_not_found' });
  }
}

/**
 * The memory does not exist or belongs to another user: answered alike, as for chats, so that
 * memory ids cannot be probed.
 */
export class MemoryNotFoundError extends AgentRouterError {
  constructor(message = 'Memory not found.') {
    super(message, { status: 404, code: 'memory_not_found' });
  }
}

/**
 * Another run holds the session's lease. `details.run_id` names that run, so that a client can
 * follow it and learn when it ends. `Retry-After` (`retryAfterSeconds`) is a polling interval,
 * not a prediction: nobody can know how long the other run will take.
 */
export class SessionBusyError extends AgentRouterError {
  readonly retryAfterSeconds = 1;

  constructor(runId: string | null, message = 'Another run is in progress on this session.') {
    super(message, { status: 409, code: 'session_busy', details: { run_id: runId } });
  }
}

/** No endpoint of the router at this path (a malformed path under its prefix). */
export class EndpointNotFoundError extends AgentRouterError {
  constructor(path: string) {
    super(`No endpoint at ${path}.`, { status: 404, code: 'not_found' });
  }
}

/** The path exists, but not for this method. `allowed` is sent as `Allow`. */
export class MethodNotAllowedError extends AgentRouterError {
  readonly allowed: readonly string[];

  constructor(method: string, allowed: readonly string[]) {
    super(`${method} is not allowed here; use ${allowed.join(' or ')}.`, { status: 405, code: 'method_not_allowed' });
    this.allowed = allowed;
  }
}

/** The run went on longer than the router's `runTimeoutMs` and was aborted. */
export class RunTimeoutError extends AgentRouterError {
  constructor(timeoutMs: number) {
    super(`The run took longer than ${timeoutMs} ms and was stopped; nothing was stored.`, {
      status: 504,
      code: 'run_timeout',
    });
  }
}

/** The router is draining before shutdown and takes no new runs. */
export class ShuttingDownError extends AgentRouterError {
  constructor(message = 'The server is shutting down; retry on another instance or in a moment.') {
    super(message, { status: 503, code: 'shutting_down' });
  }
}

/** The request body is larger than the configured limit. */
export class PayloadTooLargeError extends AgentRouterError {
  constructor(message = 'The request body is too large.') {
    super(message, { status: 413, code: 'payload_too_large' });
  }
}

/** The agent stopped after the maximum number of turns. */
export class MaxTurnsExceededRunError extends AgentRouterError {
  constructor(message: string, cause?: unknown) {
    super(message, { status: 422, code: 'max_turns_exceeded', cause });
  }
}

/** An input or output guardrail tripped; `details.guardrail` names it. */
export class GuardrailTriggeredError extends AgentRouterError {
  constructor(guardrail: string, cause?: unknown) {
    super(`Guardrail "${guardrail}" was triggered.`, {
      status: 422,
      code: 'guardrail_triggered',
      details: { guardrail },
      cause,
    });
  }
}

/** The model provider failed or answered with something the SDK could not use. */
export class ModelError extends AgentRouterError {
  constructor(message = 'The model failed to answer.', cause?: unknown) {
    super(message, { status: 502, code: 'model_error', cause });
  }
}

/** The database could not be reached, or dropped the connection mid-request. */
export class DatabaseUnavailableError extends AgentRouterError {
  constructor(cause?: unknown) {
    super('The database is unavailable. Try again shortly.', {
      status: 503,
      code: 'database_unavailable',
      cause,
    });
  }
}

/**
 * The run lost its session lease (it expired while the process stalled, and another run took the
 * session). Its turn was not written, so the history stays consistent.
 */
export class LeaseLostError extends AgentRouterError {
  constructor() {
    super('The run lost its session lease; its turn was not stored.', {
      status: 409,
      code: 'lease_lost',
    });
  }
}

/** The run's chat was deleted while the run was going on; its turn could not be stored. */
export class ChatDeletedError extends AgentRouterError {
  constructor() {
    super('The chat was deleted while the run was going on; its turn was not stored.', {
      status: 410,
      code: 'chat_deleted',
    });
  }
}

/** The run was cancelled (`POST /chats/:chat_id/runs/:run_id/cancel`, from any instance). */
export class RunCancelledError extends AgentRouterError {
  constructor(message = 'The run was cancelled.') {
    super(message, { status: 409, code: 'run_cancelled' });
  }
}

/** The run does not exist, is not the caller's, or (for decisions) started on another prefix. */
export class RunNotFoundError extends AgentRouterError {
  constructor(message = 'Run not found.') {
    super(message, { status: 404, code: 'run_not_found' });
  }
}

/** Cancelling a run that already ended (completed or failed). `details.status` says how. */
export class RunFinishedError extends AgentRouterError {
  constructor(status: string) {
    super(`The run already ended (${status}); there is nothing to cancel.`, {
      status: 409,
      code: 'run_finished',
      details: { status },
    });
  }
}

/** A run on this chat waits for a tool approval: decide it or cancel it first. */
export class ApprovalPendingError extends AgentRouterError {
  constructor(runId: string) {
    super('A run on this chat is waiting for a tool approval; decide it or cancel it first.', {
      status: 409,
      code: 'approval_pending',
      details: { run_id: runId },
    });
  }
}

/** Decisions for a run that is not (or no longer) waiting for approval. `details.status` is its status. */
export class RunNotAwaitingApprovalError extends AgentRouterError {
  constructor(status: string) {
    super(`The run is not waiting for an approval (it is ${status}); nothing was run.`, {
      status: 409,
      code: 'run_not_awaiting_approval',
      details: { status },
    });
  }
}

/** The resource changed since the client read it (`If-Match` names another version). */
export class PreconditionFailedError extends AgentRouterError {
  constructor(message = 'The state changed since you read it; read it again (its ETag) and retry.') {
    super(message, { status: 412, code: 'precondition_failed' });
  }
}

/** The run was aborted because its /stream client went away (`onDisconnect: "abort"`). */
export class ClientDisconnectedError extends AgentRouterError {
  constructor() {
    // 499, as nginx logs it: the answer is never sent, since nobody is listening.
    super('The client disconnected and the run was aborted.', { status: 499, code: 'client_disconnected' });
  }
}
