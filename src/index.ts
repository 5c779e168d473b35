// The public API of express-agent-router. Everything a host can import is listed here.

export { PostgresSession } from './session/postgres-session.js';
export type { PostgresSessionOptions } from './session/postgres-session.js';

export { createAgentRouter } from './agent-router/create-agent-router.js';
export { decisionsBodySchema, runBodySchema } from './agent-router/request-bodies.js';
export type { DecisionsRequestBody } from './agent-router/request-bodies.js';
export type { AgentRouter, AgentRouterOptions, DrainResult } from './agent-router/create-agent-router.js';
export type { AgentEndpoints, AgentInfoBody, McpServerInfo } from './agent-router/agent-info.js';
export type { UiMessageChunk, UiMessageMetadata } from './ai-sdk/ui-message-chunks.js';
export type { UiMessage, UiMessagePart, UiMessagesBody } from './ai-sdk/ui-messages.js';
export type {
  AwaitingApprovalAnswer,
  BackgroundRunResponseBody,
  ErrorBody,
  PendingApproval,
  RecordedRunEvent,
  RunAnswer,
  RunEvent,
  RunEventName,
  RunRequestBody,
  RunResponseBody,
  RunUsage,
} from './runs/run-payloads.js';
export type { ApprovalDecision } from './runs/run-control.js';
export type { RunIds } from './runs/run-engine.js';
export type { RunHookRecord, RunHooks } from './runs/run-hooks.js';
export { runInfo } from './runs/run-context.js';
export type { RunInfo } from './runs/run-context.js';
export { sessionState, SessionState } from './state/session-state.js';
export type { StateValue } from './state/session-state.js';
export type { InitialState } from './state/initial-state.js';
export type { ChatStateBody } from './chats/chat-state-routes.js';
export { expireStaleRuns } from './runs/run-queries.js';

export { createChatRouter } from './chats/create-chat-router.js';
export type { ChatRouterOptions } from './chats/create-chat-router.js';
export { PostgresChatStore } from './chats/postgres-chat-store.js';
export type { PostgresChatStoreOptions } from './chats/postgres-chat-store.js';
export type {
  Chat,
  ChatStore,
  ConversationPage,
  ConversationPageRequest,
  CreateChatInput,
  CreateStore,
  Page,
  PageRequest,
  RunInput,
  RunRecord,
  StoredItem,
  UpdateChatInput,
} from './chats/chat-store.js';
export type {
  CancelRunBody,
  ChatBody,
  ChatListBody,
  ChatWithConversationBody,
  ItemsPageBody,
  RunRecordBody,
  RunsPageBody,
} from './chats/chat-payloads.js';
export { toConversation } from './chats/conversation-view.js';
export type { ConversationMessage } from './chats/conversation-view.js';
export {
  chatIdParamsSchema,
  chatMetadataSchema,
  chatTitleSchema,
  createChatBodySchema,
  listChatsQuerySchema,
  listItemsQuerySchema,
  listRunsQuerySchema,
  readChatQuerySchema,
  updateChatBodySchema,
} from './chats/chat-schemas.js';
export type { CreateChatBody, UpdateChatBody } from './chats/chat-schemas.js';

export { openApiDocument } from './openapi/open-api-document.js';
export type { OpenApiDocument, OpenApiDocumentOptions } from './openapi/open-api-document.js';
export { createOpenApiRouter } from './openapi/create-open-api-router.js';
export type { OpenApiRouterOptions } from './openapi/create-open-api-router.js';

export { PostgresMemoryStore } from './memories/postgres-memory-store.js';
export type {
  Memory,
  PostgresMemoryStoreOptions,
  RecallOptions,
  RecalledMemory,
  RememberInput,
} from './memories/postgres-memory-store.js';
export { recallTool, rememberTool } from './memories/memory-tools.js';
export type { RecallToolOptions, RememberToolOptions } from './memories/memory-tools.js';
export type { AgentMemoriesOptions } from './memories/recall-into-instructions.js';
export { createMemoryRouter } from './memories/create-memory-router.js';
export type { MemoryRouterOptions } from './memories/create-memory-router.js';
export { listMemoriesQuerySchema, memoryIdParamsSchema } from './memories/memory-schemas.js';
export type { MemoriesDeletedBody, MemoryBody, MemoryListBody } from './memories/memory-schemas.js';

export { agentMetrics } from './metrics/agent-metrics.js';
export type { AgentMetrics, AgentMetricsOptions, AgentMetricsReport, ToolCallCounts } from './metrics/agent-metrics.js';
export { createMetricsRouter, metricsQuerySchema } from './metrics/create-metrics-router.js';
export type { AgentMetricsBody, AuthorizeMetrics, MetricsBody, MetricsRouterOptions } from './metrics/create-metrics-router.js';
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from './metrics/prometheus-text.js';

export { createHealthRouter } from './health/create-health-router.js';
export type { Drainable, HealthBody, HealthRouterOptions } from './health/create-health-router.js';

export type { GetDb, GetUserId } from './http/request-context.js';
export type { Logger } from './http/logger.js';
export type { ErrorEnvelope } from './http/error-middleware.js';

export { migrate, MIGRATIONS_TABLE, pendingMigrations } from './migrations/migrate.js';
export type { MigrateResult } from './migrations/migrate.js';

export {
  AgentRouterError,
  ApprovalPendingError,
  ChatDeletedError,
  ChatNotFoundError,
  ClientDisconnectedError,
  ConfigurationError,
  DatabaseUnavailableError,
  EndpointNotFoundError,
  ForbiddenError,
  GuardrailTriggeredError,
  InvalidArgumentError,
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
} from './errors.js';

export type { AgentRouterTables } from './db/schema.js';
