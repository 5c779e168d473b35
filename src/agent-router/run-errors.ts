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
import { toAgentRouterError } from '../http/error-middleware.js';

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
  return toAgentRouterError(error);
}

/** openai's API errors (APIError and its subclasses, APIConnectionError...) and fetch failures. */
function isProviderError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.constructor?.name ?? error.name;
  if (/^(API\w*Error|RateLimitError|InternalServerError|BadRequestError|AuthenticationError|PermissionDeniedError|NotFoundError|ConflictError|UnprocessableEntityError)$/.test(name)) {
    return true;
  }
  return error instanceof TypeError && error.message === 'fetch failed';
}

/** Token usage of a run that failed, when the SDK still knows it. */
export function usageOfFailedRun(error: unknown): { requests: number; inputTokens: number; outputTokens: number; totalTokens: number } {
  const usage = (error as { state?: { usage?: Partial<Record<'requests' | 'inputTokens' | 'outputTokens' | 'totalTokens', number>> } })
    ?.state?.usage;
  return {
    requests: usage?.requests ?? 0,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    totalTokens: usage?.totalTokens ?? 0,
  };
}
