// The public API of express-agent-router. Everything a host can import is listed here.

export { PostgresSession } from './session/postgres-session.js';
export type { PostgresSessionOptions } from './session/postgres-session.js';

export { migrate, MIGRATIONS_TABLE } from './migrations/migrate.js';
export type { MigrateResult } from './migrations/migrate.js';

export {
  AgentRouterError,
  ChatNotFoundError,
  ConfigurationError,
  DatabaseUnavailableError,
  GuardrailTriggeredError,
  InvalidArgumentError,
  InvalidRequestError,
  LeaseLostError,
  MaxTurnsExceededRunError,
  ModelError,
  PayloadTooLargeError,
  SessionBusyError,
  UnauthorizedError,
} from './errors.js';

export type { AgentRouterTables } from './db/schema.js';
