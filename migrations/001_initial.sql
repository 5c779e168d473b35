-- express-agent-router schema, part 1: chats (which are sessions), their items, and runs.
--
-- Timestamps that clients page through are kept to the millisecond (timestamptz(3)) so that a
-- JavaScript Date holds them exactly and a cursor built from one never skips or repeats a row.

-- A chat is a session: its id is the session id the agents run on.
CREATE TABLE agent_chats (
  id               varchar(255) PRIMARY KEY,
  -- The owner. NULL for sessions created by PostgresSession outside the chat API.
  user_id          varchar(255),
  title            varchar(500),
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- How many items the session holds, and the position the next item gets. Positions only grow
  -- (a pop or a clear leaves a gap), so a writer never has to read the items to place new ones.
  item_count       integer NOT NULL DEFAULT 0 CHECK (item_count >= 0),
  next_position    integer NOT NULL DEFAULT 1,
  input_tokens     bigint NOT NULL DEFAULT 0,
  output_tokens    bigint NOT NULL DEFAULT 0,
  total_tokens     bigint NOT NULL DEFAULT 0,
  last_agent_name  varchar(255),
  -- One writer per session: the run holding the lease, and when the lease lapses if not renewed.
  lease_run_id     uuid,
  lease_expires_at timestamptz,
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  updated_at       timestamptz(3) NOT NULL DEFAULT now()
);

-- "A user's chats, newest first", paged by (updated_at, id).
CREATE INDEX agent_chats_user_updated_idx ON agent_chats (user_id, updated_at DESC, id DESC);

-- The stored conversation: one row per AgentInputItem, in order.
CREATE TABLE agent_items (
  session_id  varchar(255) NOT NULL REFERENCES agent_chats (id) ON DELETE CASCADE,
  position    integer NOT NULL,
  -- The item as JSON. An item jsonb cannot hold (a string with U+0000 or a lone surrogate) is
  -- stored as a JSON string holding the item's JSON text instead; items themselves are objects.
  item        jsonb NOT NULL,
  agent_name  varchar(255),
  run_id      uuid,
  created_at  timestamptz(3) NOT NULL DEFAULT now(),
  -- Also the index behind "latest N items of a session": a backward scan reads N rows.
  PRIMARY KEY (session_id, position)
);

-- One row per agent run started through the router.
CREATE TABLE agent_runs (
  id               uuid PRIMARY KEY,
  session_id       varchar(255) NOT NULL REFERENCES agent_chats (id) ON DELETE CASCADE,
  user_id          varchar(255),
  -- The agent the run was started on, and the one that answered (after any handoff).
  agent_name       varchar(255) NOT NULL,
  last_agent_name  varchar(255),
  status           varchar(16) NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  streamed         boolean NOT NULL DEFAULT false,
  -- The caller's input (string or items), kept even when the run fails and the session stores nothing.
  input            jsonb NOT NULL,
  final_output     jsonb,
  error_code       varchar(64),
  error_message    text,
  item_count       integer NOT NULL DEFAULT 0,
  requests         integer NOT NULL DEFAULT 0,
  input_tokens     bigint NOT NULL DEFAULT 0,
  output_tokens    bigint NOT NULL DEFAULT 0,
  total_tokens     bigint NOT NULL DEFAULT 0,
  started_at       timestamptz(3) NOT NULL DEFAULT now(),
  finished_at      timestamptz(3),
  duration_ms      integer
);

-- "A chat's runs, newest first", paged by (started_at, id).
CREATE INDEX agent_runs_session_started_idx ON agent_runs (session_id, started_at DESC, id DESC);

-- Runs still marked running, so that those left behind by a process that died can be found and
-- closed without scanning every run. (Not a partial index: pg-mem ignores a partial index's
-- WHERE clause and would answer other queries on started_at wrongly.)
CREATE INDEX agent_runs_status_started_idx ON agent_runs (status, started_at);
