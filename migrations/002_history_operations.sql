-- express-agent-router schema, part 2: the history operations a session has applied.
--
-- The Agents SDK changes a session's history through `applyHistoryTransaction` in a few edge
-- cases (an output guardrail that trips after a tool ran, and the accepted retry that follows).
-- Each such change carries an operation id that stays the same when the runner retries it, and
-- must take effect once: the id is recorded here in the same database transaction as the change,
-- so a retry after a commit whose reply was lost finds it and does nothing.

CREATE TABLE agent_history_operations (
  session_id   varchar(255) NOT NULL REFERENCES agent_chats (id) ON DELETE CASCADE,
  operation_id varchar(255) NOT NULL,
  -- The transaction as applied (same encoding as agent_items.item), so that a retry can be told
  -- apart from a different transaction reusing the id.
  transaction  jsonb NOT NULL,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  -- Rows are only ever looked up by (session_id, operation_id). clearSession deletes a session's
  -- rows together with its items, as the SDK's MemorySession forgets them.
  PRIMARY KEY (session_id, operation_id)
);
