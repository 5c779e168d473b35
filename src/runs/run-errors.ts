import {
  AgentsError,
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
  InvalidArgumentError,
  MaxTurnsExceededRunError,
  ModelError,
} from '../errors.js';
import { usageOf, type Usage } from './run-queries.js';

/**
 * What a failed run answers. The SDK's own errors keep their meaning; the model provider's API
 * errors (which the SDK passes through unwrapped, e.g. openai's APIError) become 502; database
 * failures 503; anything else (a tool or guardrail that threw, dynamic instructions, a bug, the
 * library failing to encode what the run produced) 500.
 */
export function toRunError(error: unknown): AgentRouterError {
  if (error instanceof InvalidArgumentError) {
    // Raised by the library's own encoding of what the run produced: the server's failure.
    return new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
  }
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

/** Class names of the provider SDKs' API errors (openai's and Anthropic's share them). */
const PROVIDER_ERROR_CLASSES = /^(API\w*Error|RateLimitError|InternalServerError|BadRequestError|AuthenticationError|PermissionDeniedError|NotFoundError|ConflictError|UnprocessableEntityError)$/;

/**
 * The model provider's own API errors, which the SDK passes through unwrapped: openai's APIError
 * and its subclasses (told by a class in the error's prototype chain), the AI SDK's provider
 * errors (`AI_APICallError`...), and, for a host whose bundler renamed the classes, an error
 * shaped like one of them (an upstream `status` together with the response's `headers` and
 * request id, or an AI SDK call's `statusCode` and request body). An error that merely carries a
 * numeric `status` (thrown by a tool, dynamic instructions or the host's code) is not one: the
 * SDK wraps tool and guardrail failures (ToolCallError, GuardrailExecutionError), and what is
 * left unwrapped is not the provider's.
 */
function isProviderError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof AgentsError) return false;
  for (let proto = Object.getPrototypeOf(error); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if (PROVIDER_ERROR_CLASSES.test(proto.constructor?.name ?? '')) return true;
  }
  if (/^AI_(APICallError|RetryError)$/.test(error.name)) return true;
  const shape = error as { status?: unknown; headers?: unknown; requestID?: unknown; statusCode?: unknown; requestBodyValues?: unknown };
  if (typeof shape.status === 'number' && 'headers' in shape && 'requestID' in shape) return true;
  return typeof shape.statusCode === 'number' && 'requestBodyValues' in shape;
}

/** Token usage of a run that failed, when the SDK still knows it (on the error's run state). */
export function usageOfFailedRun(error: unknown): Usage {
  return usageOf((error as { state?: { usage?: Partial<Usage> } } | undefined)?.state?.usage);
}
