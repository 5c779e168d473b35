import { sql } from 'kysely';
import type { AnyKysely } from '../../src/db/schema.js';

/** What a client saw: the run it started and whether it was told it succeeded. */
export interface ClientOutcome {
  sessionId: string;
  input: string;
  status: number;
  runId?: string;
}

export interface ConsistencyReport {
  turnsChecked: number;
  /** Successes whose turn is not in the session, or not whole: must be 0. */
  itemsLost: number;
  /** Inputs stored more than once. */
  duplicateTurns: number;
  /** Whole turns stored although their client saw an error (a reply lost after its commit). */
  storedThoughFailed: number;
  /** Turns whose items are not contiguous in their session, or in the wrong order. */
  brokenTurns: number;
  /**
   * Items of runs that neither completed nor stopped with what was said kept (half turns):
   * a cancelled run keeps its input and the calls that ran, a waiting one its input and calls.
   */
  halfTurnItems: number;
  /** Tool calls in a chat with no output beside them, outside a run that waits: must be 0. */
  callsWithoutOutput: number;
  /** Chats whose item_count or token totals differ from what the items and runs say. */
  counterMismatches: number;
  /** Runs still marked running. */
  runsLeftRunning: number;
}

interface ItemRow {
  session_id: string;
  position: number;
  run_id: string | null;
  role: string | null;
  text: string | null;
  type: string | null;
  call_id: string | null;
}

/**
 * Checks the database against what the clients were told, for the echo model of
 * test/fixtures/agent-app-process.ts (a turn is the user's input, then "echo: <input>"). Runs of
 * other agents (the janitor's tool calls) are checked by the rules that hold for any run: pass
 * no outcomes for them.
 */
export async function checkConsistency(db: AnyKysely, outcomes: ClientOutcome[]): Promise<ConsistencyReport> {
  const items = (
    await sql<ItemRow>`
      SELECT session_id, position, run_id,
             item->>'role' AS role, item->>'type' AS type, item->>'callId' AS call_id,
             CASE WHEN jsonb_typeof(item->'content') = 'string' THEN item->>'content'
                  ELSE item->'content'->0->>'text' END AS text
      FROM agent_items ORDER BY session_id, position
    `.execute(db)
  ).rows;
  const runs = (
    await sql<{ id: string; session_id: string; status: string; item_count: number; input: { v: string } }>`
      SELECT id, session_id, status, item_count, input FROM agent_runs
    `.execute(db)
  ).rows;
  const runById = new Map(runs.map((run) => [run.id, run]));
  const bySession = new Map<string, ItemRow[]>();
  for (const item of items) bySession.set(item.session_id, [...(bySession.get(item.session_id) ?? []), item]);

  const report: ConsistencyReport = {
    turnsChecked: 0,
    itemsLost: 0,
    duplicateTurns: 0,
    storedThoughFailed: 0,
    brokenTurns: 0,
    halfTurnItems: 0,
    callsWithoutOutput: 0,
    counterMismatches: 0,
    runsLeftRunning: 0,
  };

  // Every success's turn is in its session, whole (input then answer) and contiguous.
  for (const outcome of outcomes.filter((o) => o.status === 200)) {
    report.turnsChecked++;
    const sessionItems = bySession.get(outcome.sessionId) ?? [];
    const index = sessionItems.findIndex((item) => item.run_id === outcome.runId);
    const turn = index >= 0 ? sessionItems.slice(index, index + 2) : [];
    const whole =
      turn.length === 2 &&
      turn.every((item) => item.run_id === outcome.runId) &&
      turn[0]!.role === 'user' &&
      turn[0]!.text === outcome.input &&
      turn[1]!.role === 'assistant' &&
      turn[1]!.text === `echo: ${outcome.input}`;
    if (!whole) report.itemsLost++;
    const ofRun = sessionItems.filter((item) => item.run_id === outcome.runId);
    if (ofRun.length !== 2 || (index >= 0 && sessionItems[index + 2]?.run_id === outcome.runId)) report.brokenTurns++;
  }
  // No input stored twice; and (reported apart) none stored for a client told it failed, which
  // only a reply lost after its commit can cause.
  const told = new Set(outcomes.filter((o) => o.status === 200).map((o) => `${o.sessionId}\u0001${o.input}`));
  const asked = new Set(outcomes.map((o) => `${o.sessionId}\u0001${o.input}`));
  const seen = new Map<string, number>();
  for (const item of items) {
    if (item.role !== 'user') continue;
    const key = `${item.session_id}\u0001${item.text}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  for (const [key, count] of seen) {
    if (count > 1) report.duplicateTurns++;
    if (asked.has(key) && !told.has(key)) report.storedThoughFailed++;
  }
  // Items only come from completed runs, as many as the run says.
  const perRun = new Map<string, number>();
  for (const item of items) {
    if (!item.run_id) continue;
    perRun.set(item.run_id, (perRun.get(item.run_id) ?? 0) + 1);
    const run = runById.get(item.run_id);
    if (!run || !['completed', 'cancelled', 'awaiting_approval'].includes(run.status)) report.halfTurnItems++;
  }
  // Every tool call has its output in the same chat, unless its run still waits for a decision.
  const outputs = new Set(items.filter((item) => item.type === 'function_call_result').map((item) => `${item.session_id}\u0001${item.call_id}`));
  for (const item of items) {
    if (item.type !== 'function_call' || outputs.has(`${item.session_id}\u0001${item.call_id}`)) continue;
    if (runById.get(item.run_id ?? '')?.status !== 'awaiting_approval') report.callsWithoutOutput++;
  }
  for (const [runId, count] of perRun) if (runById.get(runId)?.item_count !== count) report.brokenTurns++;

  // Counters and token totals equal what the items and runs say.
  const mismatches = await sql<{ id: string }>`
    SELECT chat.id FROM agent_chats AS chat
    LEFT JOIN (SELECT session_id, count(*) AS n FROM agent_items GROUP BY session_id) AS items ON items.session_id = chat.id
    LEFT JOIN (
      SELECT session_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(total_tokens) AS total_tokens
      FROM agent_runs GROUP BY session_id
    ) AS runs ON runs.session_id = chat.id
    WHERE chat.item_count <> coalesce(items.n, 0)
       OR chat.input_tokens <> coalesce(runs.input_tokens, 0)
       OR chat.output_tokens <> coalesce(runs.output_tokens, 0)
       OR chat.total_tokens <> coalesce(runs.total_tokens, 0)
  `.execute(db);
  report.counterMismatches = mismatches.rows.length;

  const running = await sql<{ n: string }>`SELECT count(*) AS n FROM agent_runs WHERE status = 'running'`.execute(db);
  report.runsLeftRunning = Number(running.rows[0]!.n);
  return report;
}
