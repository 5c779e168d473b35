import { PostgresMemoryStore, agentMetrics } from 'express-agent-router';
import type { BenchDatabase } from '../database.js';
import { timeMedian, type Settings } from '../measure.js';
import type { Report } from '../report.js';

export interface MemoryMetricsSizes {
  /** Run records seeded for agentMetrics (a million in the full run). */
  runs: number;
  /** Memories of one user seeded for recall (100,000 in the full run). */
  memories: number;
}

const AGENTS = 5;
const DAYS = 30;
const PLACES = ['dragon', 'castle', 'river', 'sword', 'tavern', 'goblin', 'wizard', 'forest', 'mountain', 'ship'];

/**
 * `agentMetrics` on `runs` seeded run records (five agents, thirty days, about 5% failed and 2%
 * cancelled, a third with tool calls) and `recall` on `memories` memories of one user, each
 * seeded by one INSERT ... SELECT generate_series. Both read through their indexes: (agent_name,
 * started_at) for the metrics, the GIN index on the memories' words for recall.
 */
export async function memoryAndMetrics(bench: BenchDatabase, settings: Settings, sizes: MemoryMetricsSizes, report: Report) {
  const { db, raw } = bench;
  const runs = sizes.runs.toLocaleString('en');
  const end = new Date(Date.UTC(2026, 10, 1));
  const start = new Date(end.getTime() - DAYS * 86_400_000);

  let began = performance.now();
  await raw.query(`INSERT INTO agent_chats (id, user_id) SELECT 'bench-chat-' || n, 'bench-user' FROM generate_series(1, 1000) AS n`);
  await raw.query(
    `INSERT INTO agent_runs (id, session_id, user_id, agent_name, status, input, error_code, started_at, finished_at,
                             duration_ms, requests, input_tokens, output_tokens, total_tokens, tool_calls)
     SELECT gen_random_uuid(), 'bench-chat-' || (1 + n % 1000), 'bench-user', 'Agent ' || (n % ${AGENTS}),
            CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 50 = 1 THEN 'cancelled' ELSE 'completed' END,
            '{"v":"bench"}'::jsonb,
            CASE WHEN n % 20 = 0 THEN 'model_error' WHEN n % 50 = 1 THEN 'run_cancelled' END,
            $1::timestamptz + (n::float8 / $3) * ($2::timestamptz - $1::timestamptz),
            $1::timestamptz + (n::float8 / $3) * ($2::timestamptz - $1::timestamptz) + interval '1 second',
            200 + (n::bigint * 7919) % 3000, 1 + n % 3, 100 + n % 500, 50 + n % 200, 150 + n % 500 + n % 200,
            CASE WHEN n % 3 = 0 THEN '{"roll_dice": {"calls": 1, "failures": 0}}'::jsonb
                 WHEN n % 7 = 0 THEN '{"lookup": {"calls": 2, "failures": 1}}'::jsonb END
     FROM generate_series(1, $3) AS n`,
    [start, end, sizes.runs],
  );
  await raw.query('ANALYZE agent_runs');
  report.valueRow('metrics', `seeding ${runs} runs (one INSERT ... SELECT)`, (performance.now() - began) / 1000, 's');

  const lastHour = { since: new Date(end.getTime() - 3_600_000), until: end };
  const lastDay = { since: new Date(end.getTime() - 86_400_000), until: end };
  report.valueRow(
    'metrics',
    `agentMetrics of one agent, last hour of ${runs} runs`,
    await timeMedian(() => agentMetrics(db, { ...lastHour, agentName: 'Agent 1' }), settings),
    'ms',
  );
  report.valueRow(
    'metrics',
    `agentMetrics of every agent, last 24 hours of ${runs} runs`,
    await timeMedian(() => agentMetrics(db, lastDay), settings),
    'ms',
  );
  // Every run of one agent (a fifth of them): the worst case, timed a few times only.
  const heavy: Settings = { warmup: 1, rounds: Math.min(settings.rounds, 5), batch: 1 };
  report.valueRow(
    'metrics',
    `agentMetrics of one agent, all ${DAYS} days of ${runs} runs`,
    await timeMedian(() => agentMetrics(db, { since: start, until: end, agentName: 'Agent 1' }), heavy),
    'ms',
  );

  const memories = sizes.memories.toLocaleString('en');
  began = performance.now();
  // Each memory names one of 1,000 topics (so a topic is in 0.1% of them) and one of ten places (10%).
  await raw.query(
    `INSERT INTO agent_memories (id, user_id, content, content_hash, importance, created_at)
     SELECT gen_random_uuid(), 'bench-user',
            'Note ' || n || ': the hero spoke of topic' || (n % 1000) || ' near the ' || (ARRAY['${PLACES.join("','")}'])[1 + n % 10] || '.',
            md5(n::text), (n % 11) / 10.0, now() - (n % 365) * interval '1 day'
     FROM generate_series(1, $1) AS n`,
    [sizes.memories],
  );
  await raw.query('ANALYZE agent_memories');
  report.valueRow('memories', `seeding ${memories} memories of one user (one INSERT ... SELECT)`, (performance.now() - began) / 1000, 's');

  const store = new PostgresMemoryStore({ db });
  report.valueRow(
    'memories',
    `recall (top 5) among ${memories} memories, a word in 0.1% of them`,
    await timeMedian((i) => store.recall('bench-user', `What about topic${i % 1000}?`), settings),
    'ms',
  );
  report.valueRow(
    'memories',
    `recall (top 5) among ${memories} memories, a word in 10% of them`,
    await timeMedian((i) => store.recall('bench-user', `Tell me about the ${PLACES[i % PLACES.length]}`), settings),
    'ms',
  );
  report.valueRow(
    'memories',
    `recall among ${memories} memories, no match`,
    await timeMedian(() => store.recall('bench-user', 'unicorns and rainbows'), settings),
    'ms',
  );
}
