import initial from '../../migrations/001_initial.sql';
import historyOperations from '../../migrations/002_history_operations.sql';
import durableRuns from '../../migrations/003_durable_runs.sql';
import memoriesAndMetrics from '../../migrations/004_memories_and_metrics.sql';
import sessionState from '../../migrations/005_session_state.sql';

export interface Migration {
  /** The file name without `.sql`; recorded in `agent_router_migrations` once applied. */
  readonly name: string;
  readonly sql: string;
}

/** Every file of `migrations/`, in the order they are applied. A test keeps the two in step. */
export const migrations: readonly Migration[] = [
  { name: '001_initial', sql: initial },
  { name: '002_history_operations', sql: historyOperations },
  { name: '003_durable_runs', sql: durableRuns },
  { name: '004_memories_and_metrics', sql: memoriesAndMetrics },
  { name: '005_session_state', sql: sessionState },
];
