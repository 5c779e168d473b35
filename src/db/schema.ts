import type { ColumnType, Generated, Kysely } from 'kysely';

/**
 * Column types of the tables created by `migrations/`. Only the library's own tables are listed;
 * hosts pass their own `Kysely<TheirDatabase>` and the library narrows it to this view.
 */

/** bigint columns with a default; they come back as strings from `pg`, as numbers from pg-mem. */
type BigIntColumn = ColumnType<string | number, number | bigint | string | undefined, number | bigint | string>;
/** Timestamp columns with a default of now(). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ChatsTable {
  id: string;
  user_id: string | null;
  title: string | null;
  metadata: ColumnType<unknown, string | undefined, string>;
  item_count: Generated<number>;
  next_position: Generated<number>;
  input_tokens: BigIntColumn;
  output_tokens: BigIntColumn;
  total_tokens: BigIntColumn;
  last_agent_name: string | null;
  lease_run_id: string | null;
  lease_expires_at: Date | null;
  /** The run waiting for a tool approval on this chat, if any. */
  pending_run_id: string | null;
  state: ColumnType<unknown, string | undefined, string>;
  state_version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ItemsTable {
  session_id: string;
  position: number;
  item: ColumnType<unknown, string, string>;
  agent_name: string | null;
  run_id: string | null;
  created_at: Timestamp;
}

export type RunStatus = 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';

export interface RunsTable {
  id: string;
  session_id: string;
  user_id: string | null;
  agent_name: string;
  last_agent_name: string | null;
  status: Generated<RunStatus>;
  streamed: Generated<boolean>;
  input: ColumnType<unknown, string, string>;
  final_output: ColumnType<unknown, string | null, string | null>;
  error_code: string | null;
  error_message: string | null;
  item_count: Generated<number>;
  requests: Generated<number>;
  input_tokens: BigIntColumn;
  output_tokens: BigIntColumn;
  total_tokens: BigIntColumn;
  started_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  duration_ms: number | null;
  background: Generated<boolean>;
  prefix: string | null;
  lease_ttl_ms: number | null;
  cancel_requested_at: Date | null;
  run_state: string | null;
  pending_approvals: ColumnType<unknown, string | null | undefined, string | null>;
  waiting_since: Date | null;
  tool_calls: ColumnType<unknown, string | null | undefined, string | null>;
  events_pruned_at: Date | null;
}

export interface RunEventsTable {
  run_id: string;
  id: number;
  event: string;
  data: ColumnType<unknown, string, string>;
  created_at: Timestamp;
}

export interface HistoryOperationsTable {
  session_id: string;
  operation_id: string;
  transaction: ColumnType<unknown, string, string>;
  created_at: Timestamp;
}

export interface UserStateTable {
  user_id: string;
  state: ColumnType<unknown, string | undefined, string>;
  version: Generated<number>;
  updated_at: Timestamp;
}

export interface MemoriesTable {
  id: string;
  user_id: string;
  content: string;
  content_hash: string;
  metadata: ColumnType<unknown, string | undefined, string>;
  importance: number;
  agent_name: string | null;
  chat_id: string | null;
  run_id: string | null;
  created_at: Timestamp;
  last_used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface AgentRouterTables {
  agent_chats: ChatsTable;
  agent_items: ItemsTable;
  agent_runs: RunsTable;
  agent_history_operations: HistoryOperationsTable;
  agent_run_events: RunEventsTable;
  agent_user_state: UserStateTable;
  agent_memories: MemoriesTable;
}

/** The library's view of the host's database handle. */
export type AgentRouterDb = Kysely<AgentRouterTables>;

/** Anything the host hands over: a `Kysely` (or a transaction) over any schema that includes ours. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKysely = Kysely<any>;
