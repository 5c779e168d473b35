// The public API of express-agent-router. Everything a host can import is listed here.

export { PostgresSession } from './session/postgres-session.js';
export type { PostgresSessionOptions } from './session/postgres-session.js';

export { createAgentRouter, runBodySchema } from './agent-router/create-agent-router.js';
export type { AgentRouter, AgentRouterOptions, DrainResult } from './agent-router/create-agent-router.js';
export type {
  AgentStreamEvent,
  AgentStreamEventName,
  ErrorBody,
  RunAnswer,
  RunRequestBody,
  RunResponseBody,
  RunUsage,
} from './agent-router/run-payloads.js';
export { expireStaleRuns } from './agent-router/run-queries.js';

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
  RunRecord,
  StoredItem,
  UpdateChatInput,
} from './chats/chat-store.js';
export type {
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

export type { GetDb, GetUserId } from './http/request-context.js';
export type { Logger } from './http/logger.js';
export type { ErrorEnvelope } from './http/error-middleware.js';

export { migrate, MIGRATIONS_TABLE } from './migrations/migrate.js';
export type { MigrateResult } from './migrations/migrate.js';

export {
  AgentRouterError,
  ChatDeletedError,
  ChatNotFoundError,
  ClientDisconnectedError,
  ConfigurationError,
  DatabaseUnavailableError,
  EndpointNotFoundError,
  GuardrailTriggeredError,
  InvalidArgumentError,
  InvalidRequestError,
  LeaseLostError,
  MaxTurnsExceededRunError,
  MethodNotAllowedError,
  ModelError,
  PayloadTooLargeError,
  RunTimeoutError,
  SessionBusyError,
  ShuttingDownError,
  UnauthorizedError,
} from './errors.js';

export type { AgentRouterTables } from './db/schema.js';
