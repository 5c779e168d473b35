import { sql } from 'kysely';
import { detectEngine } from '../db/engine.js';
import { decodeJsonObject } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { describeInvalidId } from '../session/session-id.js';

export interface AgentMetricsOptions {
  /** The window's start: runs started at or after it count. */
  since: Date;
  /** The window's end: runs started before it count. Defaults to now. */
  until?: Date;
  /** Only the runs started on this agent. Defaults to every agent that started runs in the window. */
  agentName?: string;
}

/** Tool calls and how many of them failed (threw or timed out). */
export interface ToolCallCounts {
  calls: number;
  failures: number;
}

/** What the runs one agent started in the window add up to. */
export interface AgentMetrics {
  /** The agent the runs started on (a handoff's target does not count them again). */
  agentName: string;
  /** Runs started in the window, whatever became of them. */
  runs: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Still running, or waiting for a tool approval. */
  inProgress: number;
  /**
   * `completed / (completed + failed)`: cancelled runs (stopped by a user, a client that left or a
   * shutdown) count as neither. `null` when no run completed or failed.
   */
  successRate: number | null;
  /** Failed and cancelled runs by error code (`model_error`, `run_cancelled`...). */
  errors: Record<string, number>;
  /**
   * How long the finished runs took (completed, failed or cancelled; time spent waiting for an
   * approval not included), in milliseconds: the median and the 95th percentile (interpolated, as
   * PostgreSQL's `percentile_cont`; `null` without finished runs), how many runs that is, and
   * their sum.
   */
  latencyMs: { p50: number | null; p95: number | null; count: number; sum: number };
  /** What the model calls of the runs used, as the SDK reported it. */
  tokens: { requests: number; input: number; output: number; total: number };
  /** Tool calls of the runs, all together and by tool name. */
  tools: ToolCallCounts & { byTool: Record<string, ToolCallCounts> };
}

export interface AgentMetricsReport {
  since: Date;
  until: Date;
  /** One entry per agent, by name; with `agentName`, exactly that agent's (zeros if it ran nothing). */
  agents: AgentMetrics[];
}

/**
 * Metrics per agent over a time window, computed from the run records (`agent_runs`) alone, so
 * that every instance of the app gives the same answer. A run counts in the window it started in.
 *
 * ```ts
 * import { agentMetrics } from 'express-agent-router';
 *
 * const { agents } = await agentMetrics(db, { since: new Date(Date.now() - 3_600_000) });
 * for (const agent of agents) console.log(agent.agentName, agent.successRate, agent.latencyMs.p95);
 * ```
 *
 * On PostgreSQL it is three aggregate queries through the index on (agent_name, started_at)
 * (and, for every agent, one that lists them). On
 * pg-mem (no `percentile_cont`, no `jsonb_each`) it reads the window's runs and adds them up in
 * JavaScript, with the same definitions: fine for a demo, not for a million runs.
 */
export async function agentMetrics(db: AnyKysely, options: AgentMetricsOptions): Promise<AgentMetricsReport> {
  const { since, until, agentName } = checkOptions(options);
  const { postgres } = await detectEngine(db);
  const window: Window = { since, until, agentName };
  const totals = postgres ? await fromAggregates(db, window) : await fromRows(db, window);
  if (agentName !== undefined && !totals.has(agentName)) totals.set(agentName, emptyTotals(agentName));
  const agents = [...totals.values()].sort((a, b) => (a.agentName < b.agentName ? -1 : a.agentName > b.agentName ? 1 : 0));
  return { since, until, agents: agents.map(toMetrics) };
}

interface Window {
  since: Date;
  until: Date;
  agentName: string | undefined;
}

/** What both engines' paths produce for an agent, before the rates. */
interface Totals {
  agentName: string;
  runs: number;
  completed: number;
  failed: number;
  cancelled: number;
  inProgress: number;
  errors: Record<string, number>;
  p50: number | null;
  p95: number | null;
  timed: number;
  durationSum: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  byTool: Record<string, ToolCallCounts>;
}

const FINISHED = sql`status IN ('completed', 'failed', 'cancelled')`;

async function fromAggregates(db: AnyKysely, window: Window): Promise<Map<string, Totals>> {
  const agents = window.agentName !== undefined ? [window.agentName] : await agentNames(db);
  if (agents.length === 0) return new Map();
  const inWindow = windowCondition(agents, window);
  const { rows } = await sql<{
    agent_name: string;
    runs: number;
    completed: number;
    failed: number;
    cancelled: number;
    in_progress: number;
    timed: number;
    duration_sum: string | null;
    p50: number | null;
    p95: number | null;
    requests: string;
    input_tokens: string;
    output_tokens: string;
    total_tokens: string;
  }>`
    SELECT agent_name,
           count(*)::integer AS runs,
           count(*) FILTER (WHERE status = 'completed')::integer AS completed,
           count(*) FILTER (WHERE status = 'failed')::integer AS failed,
           count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled,
           count(*) FILTER (WHERE status IN ('running', 'awaiting_approval'))::integer AS in_progress,
           count(duration_ms) FILTER (WHERE ${FINISHED})::integer AS timed,
           sum(duration_ms) FILTER (WHERE ${FINISHED})::bigint AS duration_sum,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE ${FINISHED}) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE ${FINISHED}) AS p95,
           coalesce(sum(requests), 0)::bigint AS requests,
           coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
           coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
           coalesce(sum(total_tokens), 0)::bigint AS total_tokens
    FROM agent_runs
    WHERE ${inWindow}
    GROUP BY agent_name
  `.execute(db);
  const totals = new Map<string, Totals>();
  for (const row of rows) {
    totals.set(row.agent_name, {
      ...emptyTotals(row.agent_name),
      runs: row.runs,
      completed: row.completed,
      failed: row.failed,
      cancelled: row.cancelled,
      inProgress: row.in_progress,
      timed: row.timed,
      durationSum: Number(row.duration_sum ?? 0),
      p50: row.p50 === null ? null : Number(row.p50),
      p95: row.p95 === null ? null : Number(row.p95),
      requests: Number(row.requests),
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      totalTokens: Number(row.total_tokens),
    });
  }
  if (totals.size === 0) return totals;
  const errors = await sql<{ agent_name: string; error_code: string; count: number }>`
    SELECT agent_name, error_code, count(*)::integer AS count
    FROM agent_runs
    WHERE ${inWindow} AND error_code IS NOT NULL
    GROUP BY agent_name, error_code
  `.execute(db);
  for (const row of errors.rows) totals.get(row.agent_name)!.errors[row.error_code] = row.count;
  const tools = await sql<{ agent_name: string; tool: string; calls: string; failures: string }>`
    SELECT run.agent_name, tool.key AS tool,
           coalesce(sum((tool.value ->> 'calls')::bigint), 0)::bigint AS calls,
           coalesce(sum((tool.value ->> 'failures')::bigint), 0)::bigint AS failures
    FROM agent_runs AS run CROSS JOIN LATERAL jsonb_each(run.tool_calls) AS tool
    WHERE ${windowCondition(agents, window, sql`run.`)} AND jsonb_typeof(run.tool_calls) = 'object'
    GROUP BY run.agent_name, tool.key
  `.execute(db);
  for (const row of tools.rows) {
    totals.get(row.agent_name)!.byTool[row.tool] = { calls: Number(row.calls), failures: Number(row.failures) };
  }
  return totals;
}

/**
 * Every agent that ever started a run, by a skip scan of the (agent_name, started_at) index: one
 * index probe per agent. Naming them lets each query read the window through that index, agent
 * by agent; with the time range alone, PostgreSQL would scan every run.
 */
async function agentNames(db: AnyKysely): Promise<string[]> {
  const { rows } = await sql<{ agent_name: string }>`
    WITH RECURSIVE agents AS (
      (SELECT agent_name FROM agent_runs ORDER BY agent_name LIMIT 1)
      UNION ALL
      SELECT (SELECT next.agent_name FROM agent_runs AS next WHERE next.agent_name > agents.agent_name
              ORDER BY next.agent_name LIMIT 1)
      FROM agents WHERE agents.agent_name IS NOT NULL
    )
    SELECT agent_name FROM agents WHERE agent_name IS NOT NULL
  `.execute(db);
  return rows.map((row) => row.agent_name);
}

/** The runs of the window started on these agents. */
function windowCondition(agents: readonly string[], window: Window, table = sql``) {
  return sql`${table}agent_name = ANY(${agents}::varchar[])
    AND ${table}started_at >= ${window.since} AND ${table}started_at < ${window.until}`;
}

interface RunRow {
  agent_name: string;
  status: string;
  error_code: string | null;
  duration_ms: number | null;
  requests: number;
  input_tokens: string | number;
  output_tokens: string | number;
  total_tokens: string | number;
  tool_calls: unknown;
}

/** pg-mem: the same figures, added up here from the window's rows. */
async function fromRows(db: AnyKysely, window: Window): Promise<Map<string, Totals>> {
  let query = (db as AgentRouterDb)
    .selectFrom('agent_runs')
    .select(['agent_name', 'status', 'error_code', 'duration_ms', 'requests', 'input_tokens', 'output_tokens', 'total_tokens', 'tool_calls'])
    .where('started_at', '>=', window.since)
    .where('started_at', '<', window.until);
  if (window.agentName !== undefined) query = query.where('agent_name', '=', window.agentName);
  const rows = (await query.execute()) as RunRow[];
  const totals = new Map<string, Totals>();
  const durations = new Map<string, number[]>();
  for (const row of rows) {
    let entry = totals.get(row.agent_name);
    if (!entry) totals.set(row.agent_name, (entry = emptyTotals(row.agent_name)));
    entry.runs++;
    if (row.status === 'completed') entry.completed++;
    else if (row.status === 'failed') entry.failed++;
    else if (row.status === 'cancelled') entry.cancelled++;
    else entry.inProgress++;
    if (row.error_code !== null) entry.errors[row.error_code] = (entry.errors[row.error_code] ?? 0) + 1;
    const finished = row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled';
    if (finished && row.duration_ms !== null) {
      const list = durations.get(row.agent_name) ?? [];
      list.push(Number(row.duration_ms));
      durations.set(row.agent_name, list);
    }
    entry.requests += Number(row.requests);
    entry.inputTokens += Number(row.input_tokens);
    entry.outputTokens += Number(row.output_tokens);
    entry.totalTokens += Number(row.total_tokens);
    const tools = row.tool_calls === null ? null : decodeJsonObject<unknown>(row.tool_calls);
    if (tools && typeof tools === 'object' && !Array.isArray(tools)) {
      for (const [name, counts] of Object.entries(tools as Record<string, Partial<ToolCallCounts>>)) {
        const tool = (entry.byTool[name] ??= { calls: 0, failures: 0 });
        tool.calls += Number(counts?.calls ?? 0);
        tool.failures += Number(counts?.failures ?? 0);
      }
    }
  }
  for (const [name, list] of durations) {
    const entry = totals.get(name)!;
    list.sort((a, b) => a - b);
    entry.timed = list.length;
    entry.durationSum = list.reduce((sum, value) => sum + value, 0);
    entry.p50 = percentileCont(list, 0.5);
    entry.p95 = percentileCont(list, 0.95);
  }
  return totals;
}

/** PostgreSQL's `percentile_cont` of sorted values: linear interpolation between the two nearest. */
export function percentileCont(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const position = fraction * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

function emptyTotals(agentName: string): Totals {
  return {
    agentName,
    runs: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    inProgress: 0,
    errors: {},
    p50: null,
    p95: null,
    timed: 0,
    durationSum: 0,
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    byTool: {},
  };
}

function toMetrics(totals: Totals): AgentMetrics {
  const decided = totals.completed + totals.failed;
  const tools = Object.values(totals.byTool);
  return {
    agentName: totals.agentName,
    runs: totals.runs,
    completed: totals.completed,
    failed: totals.failed,
    cancelled: totals.cancelled,
    inProgress: totals.inProgress,
    successRate: decided === 0 ? null : totals.completed / decided,
    errors: totals.errors,
    latencyMs: { p50: totals.p50, p95: totals.p95, count: totals.timed, sum: totals.durationSum },
    tokens: { requests: totals.requests, input: totals.inputTokens, output: totals.outputTokens, total: totals.totalTokens },
    tools: {
      calls: tools.reduce((sum, tool) => sum + tool.calls, 0),
      failures: tools.reduce((sum, tool) => sum + tool.failures, 0),
      byTool: totals.byTool,
    },
  };
}

function checkOptions(options: AgentMetricsOptions): Window {
  if (!options || typeof options !== 'object') {
    throw new InvalidArgumentError('agentMetrics(db, { since, until?, agentName? }): pass the window as an object.');
  }
  const { since, agentName } = options;
  const until = options.until ?? new Date();
  for (const [name, value] of [['since', since], ['until', until]] as const) {
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
      throw new InvalidArgumentError(`agentMetrics: ${name} must be a valid Date.`);
    }
  }
  if (since.getTime() >= until.getTime()) throw new InvalidArgumentError('agentMetrics: since must be before until.');
  if (agentName !== undefined) {
    const problem = describeInvalidId(agentName);
    if (problem) throw new InvalidArgumentError(`agentMetrics: agentName ${problem}.`);
  }
  return { since, until, agentName };
}
