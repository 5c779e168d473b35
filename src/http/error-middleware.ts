import type { ErrorRequestHandler } from 'express';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import {
  AgentRouterError,
  DatabaseUnavailableError,
  InvalidRequestError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  SessionBusyError,
} from '../errors.js';
import type { Logger } from './logger.js';

/** The JSON envelope every error answer uses. */
export interface ErrorEnvelope {
  success: false;
  error: { code: string; message: string; details?: unknown };
}

export function errorEnvelope(error: AgentRouterError): ErrorEnvelope {
  return {
    success: false,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
    },
  };
}

/**
 * Any error, as one of the library's errors. Anything unexpected becomes a 500 whose message says
 * nothing about the cause: no stack, no SQL. The original stays in `cause`, for the log.
 */
export function toAgentRouterError(error: unknown): AgentRouterError {
  if (error instanceof AgentRouterError) return error;
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError(error);
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  // Client errors from body-parser (they carry a `type`) and from Express (a path parameter that
  // cannot be URI-decoded, a URIError): their messages are safe to show. Other errors with a
  // status (a provider's, say) are not the client's doing.
  if (type === 'entity.too.large') return new PayloadTooLargeError();
  if (type === 'entity.parse.failed') return new InvalidRequestError('The request body is not valid JSON.');
  const fromBodyParser = typeof type === 'string';
  if ((fromBodyParser || error instanceof URIError) && typeof status === 'number' && status >= 400 && status < 500) {
    return new InvalidRequestError((error as Error).message || 'Bad request.');
  }
  return new AgentRouterError('An internal error occurred.', {
    status: 500,
    code: 'internal_error',
    cause: error,
  });
}

/** Turns errors into the JSON envelope; logs the ones that are the server's fault. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    const answer = toAgentRouterError(error);
    if (answer.status >= 500) {
      const cause = answer.cause ?? error;
      logger.error(`${req.method} ${req.originalUrl} failed: ${answer.code}`, { error: describeError(cause) });
    }
    if (res.headersSent) return next(error);
    if (answer instanceof SessionBusyError) res.setHeader('Retry-After', String(answer.retryAfterSeconds));
    if (answer instanceof MethodNotAllowedError) res.setHeader('Allow', answer.allowed.join(', '));
    res.status(answer.status).json(errorEnvelope(answer));
  };
}

/** The error's stack, followed by those of its causes: what the host needs in its log. */
export function describeError(error: unknown): string {
  const lines: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    lines.push(
      (depth ? 'Caused by: ' : '') + (current instanceof Error ? (current.stack ?? current.message) : String(current)),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n');
}
