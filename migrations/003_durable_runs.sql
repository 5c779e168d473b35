-- express-agent-router schema, part 3: runs that outlive their request.
--
-- Every run records its events (the ones /stream sends), so that any instance can replay and
-- follow it; a run can be cancelled from any instance, run in the background, and wait for a
-- person to approve a tool call.

-- A run waiting for a tool approval holds no lease; its status says it waits. The status check of
-- 001 is replaced (pg-mem names that unnamed check agent_runs_constraint_1; PostgreSQL names it
-- agent_runs_status_check: each statement is a no-op on the other).
ALTER TABLE agent_runs DROP CONSTRAINT IF EXISTS agent_runs_status_check;
ALTER TABLE agent_runs DROP CONSTRAINT IF EXISTS agent_runs_constraint_1;
ALTER TABLE agent_runs ALTER COLUMN status TYPE varchar(32);
ALTER TABLE agent_runs ADD CONSTRAINT agent_runs_status_check
  CHECK (status IN ('running', 'awaiting_approval', 'completed', 'failed', 'cancelled'));

-- Started with "background": true (nobody waits for its answer).
ALTER TABLE agent_runs ADD COLUMN background boolean NOT NULL DEFAULT false;
-- The prefix of the agent router the run started on: decisions on its approvals go there.
ALTER TABLE agent_runs ADD COLUMN prefix varchar(255);
-- The lease's time to live the run was started with: a run whose lease lapsed more than twice
-- that ago is closed as expired by whichever instance looks (a sweep, or a follower).
ALTER TABLE agent_runs ADD COLUMN lease_ttl_ms integer;
-- Set by a cancel request from any instance; the instance running the run sees it and aborts.
ALTER TABLE agent_runs ADD COLUMN cancel_requested_at timestamptz;
-- While the run awaits approval: the SDK's serialized RunState, and the calls that wait.
ALTER TABLE agent_runs ADD COLUMN run_state text;
ALTER TABLE agent_runs ADD COLUMN pending_approvals jsonb;
ALTER TABLE agent_runs ADD COLUMN waiting_since timestamptz;
-- The run's tool calls and failures by tool name: { "<tool>": { "calls": n, "failures": n } }.
ALTER TABLE agent_runs ADD COLUMN tool_calls jsonb;
-- When the events of a finished run were pruned (all but its terminal event).
ALTER TABLE agent_runs ADD COLUMN events_pruned_at timestamptz;

-- "Finished runs whose events are due for pruning" and "runs waiting too long for approval",
-- without scanning every run.
CREATE INDEX agent_runs_finished_idx ON agent_runs (events_pruned_at, finished_at);
CREATE INDEX agent_runs_waiting_idx ON agent_runs (status, waiting_since);

-- The run that waits for an approval on this chat: no other run starts until it is decided or
-- cancelled.
ALTER TABLE agent_chats ADD COLUMN pending_run_id uuid;

-- The events of a run, with the ids /stream gives them (1, 2, 3... within the run). A run's last
-- event (run.completed, run.failed, run.cancelled or run.awaiting_approval) is written in the
-- same statement that records how the run ended.
CREATE TABLE agent_run_events (
  run_id     uuid NOT NULL REFERENCES agent_runs (id) ON DELETE CASCADE,
  id         integer NOT NULL,
  event      varchar(64) NOT NULL,
  -- The event's data, encoded as agent_items.item is.
  data       jsonb NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  -- Also the index behind "the events of a run after id N".
  PRIMARY KEY (run_id, id)
);
