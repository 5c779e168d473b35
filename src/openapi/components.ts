import { z } from 'zod';
import { agentInfoBodySchema, mcpServerInfoSchema } from '../agent-router/agent-info-schema.js';
import { decisionsBodySchema, runBodySchema } from '../agent-router/request-bodies.js';
import { chatRequestBodySchema } from '../ai-sdk/chat-request.js';
import {
  uiMessageChunkSchema,
  uiMessageMetadataSchema,
  uiMessagePartSchema,
  uiMessageSchema,
  uiMessagesBodySchema,
} from '../ai-sdk/ui-message-schemas.js';
import {
  cancelRunBodySchema,
  chatBodySchema,
  chatListBodySchema,
  chatWithConversationBodySchema,
  conversationMessageSchema,
  itemsPageBodySchema,
  runRecordBodySchema,
  runsPageBodySchema,
} from '../chats/chat-payload-schemas.js';
import { createChatBodySchema, updateChatBodySchema } from '../chats/chat-schemas.js';
import { patchStateBodySchema } from '../chats/chat-state-routes.js';
import { healthBodySchema } from '../health/health-body-schema.js';
import { errorEnvelopeSchema } from '../http/error-envelope-schema.js';
import { memoriesDeletedBodySchema, memoryBodySchema, memoryListBodySchema } from '../memories/memory-payload-schemas.js';
import { agentMetricsBodySchema, metricsBodySchema } from '../metrics/metrics-payload-schemas.js';
import {
  agentInputItemSchema,
  awaitingApprovalAnswerSchema,
  backgroundRunResponseBodySchema,
  pendingApprovalSchema,
  recordedRunEventSchema,
  runAnswerSchema,
  runResponseBodySchema,
  runUsageSchema,
} from '../runs/run-payload-schemas.js';
import { chatStateBodySchema } from '../state/state-payload-schemas.js';
import type { EventStreamKind } from './endpoints.js';
import { ERROR_CODES, envelopeOfCode, errorComponentName, type ErrorCode } from './error-codes.js';

/** A JSON Schema (2020-12) object, as z.toJSONSchema writes it. */
export type JsonSchema = Record<string, unknown>;

/**
 * The SSE messages of the two kinds of stream, as objects of their fields: `data` is the parsed
 * JSON of the `data:` line.
 */
const eventStreamSchemas: Record<EventStreamKind, z.ZodType> = {
  'run-events': recordedRunEventSchema,
  'ui-message-chunks': z
    .strictObject({ data: z.union([uiMessageChunkSchema, z.literal('[DONE]')]) })
    .describe('One server-sent event of the UI message stream: a `data:` line only, a chunk, or `[DONE]` to end the stream.'),
};

/**
 * The named schemas of the document (`#/components/schemas/<name>`). Every schema an endpoint
 * uses as a body must be here; a schema used inside another is referenced rather than repeated.
 */
const NAMED_SCHEMAS: Record<string, z.ZodType> = {
  AgentInputItem: agentInputItemSchema,
  RunRequestBody: runBodySchema,
  DecisionsRequestBody: decisionsBodySchema,
  AiSdkChatRequestBody: chatRequestBodySchema,
  CreateChatBody: createChatBodySchema,
  UpdateChatBody: updateChatBodySchema,
  PatchChatStateBody: patchStateBodySchema,
  RunUsage: runUsageSchema,
  PendingApproval: pendingApprovalSchema,
  RunAnswer: runAnswerSchema,
  AwaitingApprovalAnswer: awaitingApprovalAnswerSchema,
  RunResponseBody: runResponseBodySchema,
  BackgroundRunResponseBody: backgroundRunResponseBodySchema,
  RunEvent: eventStreamSchemas['run-events'],
  AgentInfoBody: agentInfoBodySchema,
  McpServerInfo: mcpServerInfoSchema,
  UiMessageMetadata: uiMessageMetadataSchema,
  UiMessageChunk: uiMessageChunkSchema,
  UiMessageStreamEvent: eventStreamSchemas['ui-message-chunks'],
  UiMessagePart: uiMessagePartSchema,
  UiMessage: uiMessageSchema,
  UiMessagesBody: uiMessagesBodySchema,
  ChatBody: chatBodySchema,
  ChatWithConversationBody: chatWithConversationBodySchema,
  ConversationMessage: conversationMessageSchema,
  ChatListBody: chatListBodySchema,
  ItemsPageBody: itemsPageBodySchema,
  RunRecordBody: runRecordBodySchema,
  RunsPageBody: runsPageBodySchema,
  CancelRunBody: cancelRunBodySchema,
  ChatStateBody: chatStateBodySchema,
  MemoryBody: memoryBodySchema,
  MemoryListBody: memoryListBodySchema,
  MemoriesDeletedBody: memoriesDeletedBodySchema,
  MetricsBody: metricsBodySchema,
  AgentMetricsBody: agentMetricsBodySchema,
  HealthBody: healthBodySchema,
  ErrorEnvelope: errorEnvelopeSchema,
  ...Object.fromEntries((Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => [errorComponentName(code), envelopeOfCode(code)])),
};

export interface Components {
  schemas: Record<string, JsonSchema>;
  /** The `$ref` of a named schema; throws for a schema that has no name. */
  ref(schema: z.ZodType): { $ref: string };
  /** The `$ref` of the SSE message schema of a stream. */
  streamRef(kind: EventStreamKind): { $ref: string };
}

let built: Components | undefined;

/** The named schemas as JSON Schema, converted once (they do not depend on the options). */
export function components(): Components {
  built ??= buildComponents();
  return built;
}

function buildComponents(): Components {
  const registry = z.registry<{ id: string }>();
  const names = new Map<z.ZodType, string>();
  for (const [name, schema] of Object.entries(NAMED_SCHEMAS)) {
    registry.add(schema, { id: name });
    names.set(schema, name);
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    // Requests are described as a client sends them (before defaults and coercion); the
    // answers have neither, so one conversion serves both.
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable,
  });
  if ('__shared' in schemas) {
    // Only cyclic schemas land there; none of the API's are.
    throw new Error(`openApiDocument: schemas that cannot be named: ${Object.keys((schemas.__shared as JsonSchema).$defs ?? {}).join(', ')}`);
  }
  for (const schema of Object.values(schemas)) {
    // The document says its dialect once (jsonSchemaDialect); `$id` would be a fragment.
    delete schema.$schema;
    delete schema.$id;
  }
  const ref = (schema: z.ZodType) => {
    const name = names.get(schema);
    if (!name) throw new Error('openApiDocument: a body schema of an endpoint is not among the named schemas (components.ts).');
    return { $ref: `#/components/schemas/${name}` };
  };
  return { schemas: schemas as Record<string, JsonSchema>, ref, streamRef: (kind) => ref(eventStreamSchemas[kind]) };
}

/**
 * What a schema that JSON Schema cannot express becomes. The SDK's item schemas accept raw bytes
 * (`Uint8Array`) beside base64 text, which JSON cannot carry: that branch matches nothing. A
 * custom check described by its metadata (`.meta({ type: 'object' })`) is its metadata; any other
 * throws, so that a new custom schema cannot silently document "anything".
 */
function unrepresentable({ zodSchema }: { zodSchema: z.core.$ZodType }): JsonSchema | 'throw' {
  if ((zodSchema._zod.bag as { Class?: unknown }).Class === Uint8Array) {
    return { not: {}, description: 'Raw bytes: accepted in process, never in JSON.' };
  }
  if (z.globalRegistry.get(zodSchema as z.ZodType)?.type !== undefined) return {};
  return 'throw';
}
