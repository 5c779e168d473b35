// The public API of express-agent-router/session: the Agents SDK session on PostgreSQL and the
// migrations it needs, for scripts and apps that do not use the routers. Nothing imported from
// here loads Express. These are the main entry's own classes, not copies (the build shares them
// through chunks), so within one module system an error is `instanceof` the class from either.

export { PostgresSession } from './postgres-session.js';
export type { PostgresSessionOptions } from './postgres-session.js';

export { migrate, MIGRATIONS_TABLE } from '../migrations/migrate.js';
export type { MigrateResult } from '../migrations/migrate.js';

// What PostgresSession throws for arguments it cannot accept, and the base class of every error
// of the library.
export { AgentRouterError, InvalidArgumentError } from '../errors.js';

export type { AgentRouterTables } from '../db/schema.js';
