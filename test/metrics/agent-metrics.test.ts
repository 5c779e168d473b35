import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { agentMetrics, percentileCont, type AgentMetrics } from '../../src/metrics/agent-metrics.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { SINCE, UNTIL, seedRuns } from './seeded-runs.js';

/**
 * Bard's figures, worked out by hand from the table in seeded-runs.ts (the 8 runs in the window):
 * - statuses: completed #1 #2 #8, failed #3 #7, cancelled #4, in progress #5 (running) #6 (waiting);
 *   success rate 3 / (3 + 2).
 * - latency of the finished runs that have a duration (#7 expired without one): 50 100 200 300 1000;
 *   p50 is the middle one, 200; p95 sits at 0.95 × 4 = 3.8 between 300 and 1000: 300 + 0.8 × 700.
 * - tokens: requests 1+2+1+0+1+1+0+3, input 10+20+5+0+7+8+0+100, output 5+10+0+0+0+2+0+50,
 *   total 15+30+5+0+7+10+0+150.
 * - tools: roll_dice 2+1+1 calls, 0+1+0 failures; lookup 1+1 calls, 0+1 failures.
 */
const BARD: AgentMetrics = {
  agentName: 'Bard',
  runs: 8,
  completed: 3,
  failed: 2,
  cancelled: 1,
  inProgress: 2,
  successRate: 0.6,
  errors: { model_error: 1, run_cancelled: 1, run_expired: 1 },
  // 860 in floating point (PostgreSQL and JavaScript both give 859.9999999999999).
  latencyMs: { p50: 200, p95: expect.closeTo(860, 9), count: 5, sum: 1650 },
  tokens: { requests: 9, input: 150, output: 67, total: 217 },
  tools: { calls: 6, failures: 2, byTool: { roll_dice: { calls: 4, failures: 1 }, lookup: { calls: 2, failures: 1 } } },
};

const KEEPER: AgentMetrics = {
  agentName: 'Keeper',
  runs: 1,
  completed: 1,
  failed: 0,
  cancelled: 0,
  inProgress: 0,
  successRate: 1,
  errors: {},
  latencyMs: { p50: 70, p95: 70, count: 1, sum: 70 },
  tokens: { requests: 1, input: 3, output: 4, total: 7 },
  tools: { calls: 0, failures: 0, byTool: {} },
};

describeEachEngine('agentMetrics', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await seedRuns(database.db);
  });
  afterAll(() => database.destroy());

  it('adds up the runs each agent started in the window, as worked out by hand', async () => {
    const report = await agentMetrics(database.db, { since: SINCE, until: UNTIL });
    expect(report).toEqual({ since: SINCE, until: UNTIL, agents: [BARD, KEEPER] });
  });

  it('reports one agent, and zeros for an agent without runs in the window', async () => {
    expect((await agentMetrics(database.db, { since: SINCE, until: UNTIL, agentName: 'Keeper' })).agents).toEqual([KEEPER]);
    const [nobody] = (await agentMetrics(database.db, { since: SINCE, until: UNTIL, agentName: 'Nobody' })).agents;
    expect(nobody).toEqual({
      agentName: 'Nobody',
      runs: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
      inProgress: 0,
      successRate: null,
      errors: {},
      latencyMs: { p50: null, p95: null, count: 0, sum: 0 },
      tokens: { requests: 0, input: 0, output: 0, total: 0 },
      tools: { calls: 0, failures: 0, byTool: {} },
    });
  });

  it('counts a run in the window it started in: the start is inclusive, the end exclusive', async () => {
    const late = await agentMetrics(database.db, { since: UNTIL, until: new Date(UNTIL.getTime() + 1) });
    expect(late.agents.map((agent) => [agent.agentName, agent.runs, agent.tools.byTool])).toEqual([
      ['Bard', 1, { roll_dice: { calls: 9, failures: 9 } }],
    ]);
    const empty = await agentMetrics(database.db, { since: new Date('2020-01-01'), until: new Date('2020-01-02') });
    expect(empty.agents).toEqual([]);
  });

  it('refuses a window it cannot use', async () => {
    await expect(agentMetrics(database.db, { since: UNTIL, until: SINCE })).rejects.toThrow(InvalidArgumentError);
    await expect(agentMetrics(database.db, { since: new Date('nope') })).rejects.toThrow(InvalidArgumentError);
    await expect(agentMetrics(database.db, { since: '2026-06-01' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(agentMetrics(database.db, { since: SINCE, agentName: '' })).rejects.toThrow(InvalidArgumentError);
  });
});

it('percentileCont interpolates as PostgreSQL’s percentile_cont does', () => {
  expect(percentileCont([], 0.5)).toBeNull();
  expect(percentileCont([7], 0.95)).toBe(7);
  expect(percentileCont([1, 2, 3, 4], 0.5)).toBe(2.5);
  expect(percentileCont([10, 20], 0.95)).toBeCloseTo(19.5, 10);
});

describePostgres('agentMetrics on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('reads an agent’s window through the (agent_name, started_at) index', async () => {
    await seedRuns(database.db);
    await sql`
      INSERT INTO agent_runs (id, session_id, agent_name, status, input, started_at, duration_ms)
      SELECT gen_random_uuid(), 'metrics-chat', 'Agent ' || (n % 20), 'completed', '{"v":"x"}',
             timestamptz '2026-01-01' + n * interval '1 minute', 100
      FROM generate_series(1, 50000) AS n
    `.execute(database.db);
    await sql`ANALYZE agent_runs`.execute(database.db);
    const plan = await sql<{ 'QUERY PLAN': string }>`
      EXPLAIN SELECT count(*) FROM agent_runs
      WHERE agent_name = 'Agent 3' AND started_at >= '2026-01-10' AND started_at < '2026-01-11'
    `.execute(database.db);
    expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('agent_runs_agent_started_idx');
    // And the seeded figures are unchanged by the runs outside their window.
    expect((await agentMetrics(database.db, { since: SINCE, until: UNTIL })).agents).toEqual([BARD, KEEPER]);
  });
});
