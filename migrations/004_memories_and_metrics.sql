-- express-agent-router schema, part 4: memories that outlive a chat, and metrics per agent.
--
-- A memory belongs to a user, not to a chat: agents write it with the `remember` tool and find
-- it again in any later chat of the same user, by PostgreSQL full-text search. The metrics are
-- computed from agent_runs, which the run engine already writes; they only need an index.
--
-- The lines between "postgres-only: begin" and "postgres-only: end" need PostgreSQL (pg-mem has
-- no tsvector). migrate() leaves them out on pg-mem, where memories are searched with ILIKE
-- instead; a host applying this file with its own tool on PostgreSQL runs all of it.

CREATE TABLE agent_memories (
  id            uuid PRIMARY KEY,
  user_id       varchar(255) NOT NULL,
  content       text NOT NULL,
  -- sha256 of content, in hex: the same thing remembered twice by a user is one memory.
  content_hash  varchar(64) NOT NULL,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- How much it matters, from 0 (trivia) to 1 (never forget): a factor of the ranking.
  importance    double precision NOT NULL DEFAULT 0.5 CHECK (importance >= 0 AND importance <= 1),
  -- Where it was remembered, when a run did it. No foreign keys: a memory outlives its chat.
  agent_name    varchar(255),
  chat_id       varchar(255),
  run_id        uuid,
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  -- Set each time a search returns it: recency counts from here.
  last_used_at  timestamptz(3)
);

-- "A user's memories, newest first", paged by (created_at, id); also the user filter of a search.
CREATE INDEX agent_memories_user_created_idx ON agent_memories (user_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX agent_memories_user_content_idx ON agent_memories (user_id, content_hash);

-- postgres-only: begin
-- The words of each memory, stemmed as English, for full-text search. A later migration can add
-- an embedding column beside it (pgvector's `vector(n)`) without touching this one.
ALTER TABLE agent_memories
  ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX agent_memories_search_idx ON agent_memories USING gin (search);
-- postgres-only: end

-- "The runs of an agent in a time window": what agentMetrics() reads.
CREATE INDEX agent_runs_agent_started_idx ON agent_runs (agent_name, started_at);
