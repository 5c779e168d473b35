import {
  InputGuardrailTripwireTriggered,
  MaxTurnsExceededError,
  ModelBehaviorError,
  ModelRefusalError,
  ModelTimeoutError,
  OutputGuardrailTripwireTriggered,
  ToolInputGuardrailTripwireTriggered,
  ToolOutputGuardrailTripwireTriggered,
} from '@openai/agents';
import { isDatabaseUnavailable } from '../db/database-errors.js';
import {
  AgentRouterError,
  DatabaseUnavailableError,
  GuardrailTriggeredError,
  MaxTurnsExceededRunError,
  ModelError,
} from '../errors.js';
import { usageOf, type Usage } from './run-queries.js';

/**
 * What a failed run answers. The SDK's own errors keep their meaning; provider and network errors
 * (which the SDK passes through unwrapped, e.g. openai's APIError or a failed fetch) become 502;
 * database failures 503; anything else (a tool or guardrail that threw, a bug) 500.
 */
export function toRunError(error: unknown): AgentRouterError {
  if (error instanceof AgentRouterError) return error;
  if (error instanceof MaxTurnsExceededError) {
    return new MaxTurnsExceededRunError('The agent stopped after its maximum number of turns without a final answer.', error);
  }
  if (
    error instanceof InputGuardrailTripwireTriggered ||
    error instanceof OutputGuardrailTripwireTriggered ||
    error instanceof ToolInputGuardrailTripwireTriggered ||
    error instanceof ToolOutputGuardrailTripwireTriggered
  ) {
    const name = (error.result as { guardrail?: { name?: string } }).guardrail?.name ?? 'unnamed';
    return new GuardrailTriggeredError(name, error);
  }
  if (error instanceof ModelBehaviorError || error instanceof ModelRefusalError || error instanceof ModelTimeoutError) {
    return new ModelError('The model failed to produce a usable answer.', error);
  }
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError(error);
  if (isProviderError(error)) return new ModelError('The model provider could not be reached or failed.', error);
  // Anything else is the server's fault, including the library refusing what the run produced.
  return new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
}

/**
 * openai's API errors (APIError and its subclasses, APIConnectionError...) and fetch failures.
 * Told by shape as well as by name, since a host's bundler may rename classes: an HTTP error
 * from a provider carries the upstream `status`.
 */
function isProviderError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.constructor?.name ?? error.name;
  if (/^(API\w*Error|RateLimitError|InternalServerError|BadRequestError|AuthenticationError|PermissionDeniedError|NotFoundError|ConflictError|UnprocessableEntityError)$/.test(name)) {
    return true;
  }
  if (typeof (error as { status?: unknown }).status === 'number') return true;
  return error instanceof TypeError && error.message === 'fetch failed';
}

/** Token usage of a run that failed, when the SDK still knows it (on the error's run state). */
export function usageOfFailedRun(error: unknown): Usage {
  return usageOf((error as { state?: { usage?: Partial<Usage> } } | undefined)?.state?.usage);
}
