-- express-agent-router schema, part 5: session state.
--
-- Each chat has a JSON state, and each user a state shared by all their chats (the "user:" keys
-- of a run's state). Tools, dynamic instructions and guardrails read and write it through the
-- run context; a run's changes are written with its turn, in the same statement. Versions are
-- what the state endpoints' ETags are made of.

ALTER TABLE agent_chats ADD COLUMN state jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE agent_chats ADD COLUMN state_version integer NOT NULL DEFAULT 0;

CREATE TABLE agent_user_state (
  user_id    varchar(255) PRIMARY KEY,
  -- The user's keys, without their "user:" prefix.
  state      jsonb NOT NULL DEFAULT '{}'::jsonb,
  version    integer NOT NULL DEFAULT 0,
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
