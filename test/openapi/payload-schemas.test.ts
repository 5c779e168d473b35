import type { AgentInputItem } from '@openai/agents';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { AgentInfoBody, McpServerInfo } from '../../src/agent-router/agent-info.js';
import { agentInfoBodySchema, mcpServerInfoSchema } from '../../src/agent-router/agent-info-schema.js';
import type { UiMessageChunk, UiMessageMetadata } from '../../src/ai-sdk/ui-message-chunks.js';
import {
  uiMessageChunkSchema,
  uiMessageMetadataSchema,
  uiMessagePartSchema,
  uiMessageSchema,
  uiMessagesBodySchema,
} from '../../src/ai-sdk/ui-message-schemas.js';
import type { UiMessage, UiMessagePart, UiMessagesBody } from '../../src/ai-sdk/ui-messages.js';
import {
  cancelRunBodySchema,
  chatBodySchema,
  chatListBodySchema,
  chatWithConversationBodySchema,
  conversationMessageSchema,
  itemsPageBodySchema,
  runRecordBodySchema,
  runsPageBodySchema,
} from '../../src/chats/chat-payload-schemas.js';
import type {
  CancelRunBody,
  ChatBody,
  ChatListBody,
  ChatWithConversationBody,
  ItemsPageBody,
  RunRecordBody,
  RunsPageBody,
} from '../../src/chats/chat-payloads.js';
import type { ChatStateBody } from '../../src/chats/chat-state-routes.js';
import type { ConversationMessage } from '../../src/chats/conversation-view.js';
import * as errors from '../../src/errors.js';
import type { HealthBody } from '../../src/health/create-health-router.js';
import { healthBodySchema } from '../../src/health/health-body-schema.js';
import {
  AgentRouterError,
  ApprovalPendingError,
  ChatDeletedError,
  ChatNotFoundError,
  ClientDisconnectedError,
  DatabaseUnavailableError,
  EndpointNotFoundError,
  ForbiddenError,
  GuardrailTriggeredError,
  InvalidRequestError,
  LeaseLostError,
  MaxTurnsExceededRunError,
  MemoryNotFoundError,
  MethodNotAllowedError,
  ModelError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RunCancelledError,
  RunFinishedError,
  RunNotAwaitingApprovalError,
  RunNotFoundError,
  RunTimeoutError,
  SessionBusyError,
  ShuttingDownError,
  UnauthorizedError,
} from '../../src/errors.js';
import { errorEnvelopeSchema } from '../../src/http/error-envelope-schema.js';
import { errorEnvelope, type ErrorEnvelope } from '../../src/http/error-middleware.js';
import { memoriesDeletedBodySchema, memoryBodySchema, memoryListBodySchema } from '../../src/memories/memory-payload-schemas.js';
import type { MemoriesDeletedBody, MemoryBody, MemoryListBody } from '../../src/memories/memory-schemas.js';
import type { AgentMetricsBody, MetricsBody } from '../../src/metrics/create-metrics-router.js';
import { agentMetricsBodySchema, metricsBodySchema } from '../../src/metrics/metrics-payload-schemas.js';
import { ERROR_CODES, envelopeOfCode, type ErrorCode } from '../../src/openapi/error-codes.js';
import {
  agentInputItemSchema,
  awaitingApprovalAnswerSchema,
  backgroundRunResponseBodySchema,
  errorBodySchema,
  pendingApprovalSchema,
  recordedRunEventSchema,
  runAnswerSchema,
  runResponseBodySchema,
  runUsageSchema,
} from '../../src/runs/run-payload-schemas.js';
import type {
  AwaitingApprovalAnswer,
  BackgroundRunResponseBody,
  ErrorBody,
  PendingApproval,
  RecordedRunEvent,
  RunAnswer,
  RunResponseBody,
  RunUsage,
} from '../../src/runs/run-payloads.js';
import { chatStateBodySchema } from '../../src/state/state-payload-schemas.js';

/** `A & B` as one object type, per union member: what zod infers for an extended object. */
type Flat<T> = T extends unknown ? { [K in keyof T]: T[K] } : never;

// The response schemas of the OpenAPI document against the plain types the code answers with:
// `npm run typecheck` fails if either side changes alone.
describe('the response schemas and the payload types', () => {
  it('agree, type for type', () => {
    expectTypeOf<z.infer<typeof agentInputItemSchema>>().toEqualTypeOf<AgentInputItem>();
    expectTypeOf<z.infer<typeof runUsageSchema>>().toEqualTypeOf<RunUsage>();
    expectTypeOf<z.infer<typeof pendingApprovalSchema>>().toEqualTypeOf<PendingApproval>();
    expectTypeOf<z.infer<typeof runAnswerSchema>>().toEqualTypeOf<RunAnswer>();
    expectTypeOf<z.infer<typeof awaitingApprovalAnswerSchema>>().toEqualTypeOf<AwaitingApprovalAnswer>();
    expectTypeOf<z.infer<typeof runResponseBodySchema>>().toEqualTypeOf<Flat<RunResponseBody>>();
    expectTypeOf<z.infer<typeof backgroundRunResponseBodySchema>>().toEqualTypeOf<BackgroundRunResponseBody>();
    expectTypeOf<z.infer<typeof errorBodySchema>>().toEqualTypeOf<ErrorBody>();
    expectTypeOf<z.infer<typeof recordedRunEventSchema>>().toEqualTypeOf<Flat<RecordedRunEvent>>();
    expectTypeOf<z.infer<typeof errorEnvelopeSchema>>().toEqualTypeOf<ErrorEnvelope>();

    expectTypeOf<z.infer<typeof chatBodySchema>>().toEqualTypeOf<ChatBody>();
    expectTypeOf<z.infer<typeof conversationMessageSchema>>().toEqualTypeOf<ConversationMessage>();
    expectTypeOf<z.infer<typeof chatWithConversationBodySchema>>().toEqualTypeOf<ChatWithConversationBody>();
    expectTypeOf<z.infer<typeof chatListBodySchema>>().toEqualTypeOf<ChatListBody>();
    expectTypeOf<z.infer<typeof itemsPageBodySchema>>().toEqualTypeOf<ItemsPageBody>();
    expectTypeOf<z.infer<typeof runRecordBodySchema>>().toEqualTypeOf<RunRecordBody>();
    expectTypeOf<z.infer<typeof runsPageBodySchema>>().toEqualTypeOf<RunsPageBody>();
    expectTypeOf<z.infer<typeof cancelRunBodySchema>>().toEqualTypeOf<CancelRunBody>();
    expectTypeOf<z.infer<typeof chatStateBodySchema>>().toEqualTypeOf<ChatStateBody>();

    expectTypeOf<z.infer<typeof agentInfoBodySchema>>().toEqualTypeOf<AgentInfoBody>();
    expectTypeOf<z.infer<typeof mcpServerInfoSchema>>().toEqualTypeOf<McpServerInfo>();

    expectTypeOf<z.infer<typeof uiMessageMetadataSchema>>().toEqualTypeOf<UiMessageMetadata>();
    expectTypeOf<z.infer<typeof uiMessageChunkSchema>>().toEqualTypeOf<UiMessageChunk>();
    expectTypeOf<z.infer<typeof uiMessagePartSchema>>().toEqualTypeOf<UiMessagePart>();
    expectTypeOf<z.infer<typeof uiMessageSchema>>().toEqualTypeOf<UiMessage>();
    expectTypeOf<z.infer<typeof uiMessagesBodySchema>>().toEqualTypeOf<UiMessagesBody>();

    expectTypeOf<z.infer<typeof memoryBodySchema>>().toEqualTypeOf<MemoryBody>();
    expectTypeOf<z.infer<typeof memoryListBodySchema>>().toEqualTypeOf<MemoryListBody>();
    expectTypeOf<z.infer<typeof memoriesDeletedBodySchema>>().toEqualTypeOf<MemoriesDeletedBody>();
    expectTypeOf<z.infer<typeof agentMetricsBodySchema>>().toEqualTypeOf<AgentMetricsBody>();
    expectTypeOf<z.infer<typeof metricsBodySchema>>().toEqualTypeOf<MetricsBody>();
    expectTypeOf<z.infer<typeof healthBodySchema>>().toEqualTypeOf<HealthBody>();

    // Each code's envelope is an ErrorEnvelope.
    expectTypeOf<z.infer<ReturnType<typeof envelopeOfCode>>>().toExtend<ErrorEnvelope>();
  });
});

describe('the error codes of the document', () => {
  // One instance of every error an HTTP answer can carry (ConfigurationError and
  // InvalidArgumentError are thrown at library calls, not answered).
  const answered: AgentRouterError[] = [
    new InvalidRequestError('x'),
    new UnauthorizedError(),
    new ForbiddenError(),
    new ChatNotFoundError(),
    new MemoryNotFoundError(),
    new RunNotFoundError(),
    new EndpointNotFoundError('/chats//items'),
    new MethodNotAllowedError('PATCH', ['GET']),
    new ApprovalPendingError('run'),
    new RunNotAwaitingApprovalError('completed'),
    new RunCancelledError(),
    new SessionBusyError('run'),
    new LeaseLostError(),
    new RunFinishedError('completed'),
    new ChatDeletedError(),
    new PreconditionFailedError(),
    new PayloadTooLargeError(),
    new MaxTurnsExceededRunError('x'),
    new GuardrailTriggeredError('g'),
    new ClientDisconnectedError(),
    new AgentRouterError('An internal error occurred.'),
    new ModelError(),
    new DatabaseUnavailableError(),
    new ShuttingDownError(),
    new RunTimeoutError(1),
  ];

  it('name every error the library answers, with its status', () => {
    const notAnswered = new Set<unknown>([AgentRouterError, errors.ConfigurationError, errors.InvalidArgumentError]);
    for (const [name, Class] of Object.entries(errors)) {
      if (!notAnswered.has(Class)) expect(answered.some((error) => error.constructor === Class), `${name} is in the list`).toBe(true);
    }
    expect(Object.fromEntries(answered.map((error) => [error.code, error.status]))).toEqual(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, spec]) => [code, spec.status])),
    );
  });

  it("describe each error's envelope as the error middleware writes it, details included", () => {
    for (const error of answered) {
      const result = envelopeOfCode(error.code as ErrorCode).safeParse(errorEnvelope(error));
      expect(result.success, `${error.code}: ${result.error?.message}`).toBe(true);
    }
  });
});
