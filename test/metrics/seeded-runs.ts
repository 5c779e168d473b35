// Run records with known figures, written straight to agent_runs, for the metrics tests.
import type { AnyKysely } from '../../src/db/schema.js';
import { randomUUID } from 'node:crypto';

export const SINCE = new Date('2026-06-01T00:00:00.000Z');
export const UNTIL = new Date('2026-06-02T00:00:00.000Z');

interface SeededRun {
  agent: string;
  at: Date;
  status: 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
  error?: string;
  ms: number | null;
  tokens?: [requests: number, input: number, output: number, total: number];
  tools?: Record<string, { calls: number; failures: number }>;
}

const hour = (h: number) => new Date(SINCE.getTime() + h * 3_600_000);

/**
 * Bard's runs in the window, one per row (the figures the tests expect are worked out by hand
 * from this table, in the tests themselves), Keeper's one run, and runs just outside the window.
 */
export const RUNS: SeededRun[] = [
  { agent: 'Bard', at: hour(1), status: 'completed', ms: 100, tokens: [1, 10, 5, 15], tools: { roll_dice: { calls: 2, failures: 0 } } },
  { agent: 'Bard', at: hour(2), status: 'completed', ms: 300, tokens: [2, 20, 10, 30], tools: { roll_dice: { calls: 1, failures: 1 }, lookup: { calls: 1, failures: 0 } } },
  { agent: 'Bard', at: hour(3), status: 'failed', error: 'model_error', ms: 200, tokens: [1, 5, 0, 5] },
  { agent: 'Bard', at: hour(4), status: 'cancelled', error: 'run_cancelled', ms: 50, tools: { lookup: { calls: 1, failures: 1 } } },
  { agent: 'Bard', at: hour(5), status: 'running', ms: null, tokens: [1, 7, 0, 7] },
  { agent: 'Bard', at: hour(6), status: 'awaiting_approval', ms: 40, tokens: [1, 8, 2, 10], tools: { roll_dice: { calls: 1, failures: 0 } } },
  { agent: 'Bard', at: hour(7), status: 'failed', error: 'run_expired', ms: null },
  // Exactly at `since`: inside the window.
  { agent: 'Bard', at: SINCE, status: 'completed', ms: 1000, tokens: [3, 100, 50, 150], tools: {} },
  { agent: 'Keeper', at: hour(12), status: 'completed', ms: 70, tokens: [1, 3, 4, 7] },
  // Outside: a millisecond before `since`, and exactly at `until` (the end is exclusive).
  { agent: 'Bard', at: new Date(SINCE.getTime() - 1), status: 'failed', error: 'model_error', ms: 5, tokens: [9, 9, 9, 9] },
  { agent: 'Bard', at: UNTIL, status: 'completed', ms: 5, tokens: [9, 9, 9, 9], tools: { roll_dice: { calls: 9, failures: 9 } } },
  { agent: 'Keeper', at: hour(30), status: 'failed', error: 'model_error', ms: 5 },
];

export async function seedRuns(db: AnyKysely, runs: SeededRun[] = RUNS): Promise<void> {
  await db.insertInto('agent_chats').values({ id: 'metrics-chat', user_id: 'alice' }).onConflict((c) => c.column('id').doNothing()).execute();
  for (const run of runs) {
    const [requests, input, output, total] = run.tokens ?? [0, 0, 0, 0];
    const finished = run.status !== 'running' && run.status !== 'awaiting_approval';
    await db
      .insertInto('agent_runs')
      .values({
        id: randomUUID(),
        session_id: 'metrics-chat',
        user_id: 'alice',
        agent_name: run.agent,
        status: run.status,
        input: JSON.stringify({ v: 'hi' }),
        error_code: run.error ?? null,
        started_at: run.at,
        finished_at: finished ? new Date(run.at.getTime() + (run.ms ?? 0)) : null,
        duration_ms: run.ms,
        requests,
        input_tokens: input,
        output_tokens: output,
        total_tokens: total,
        tool_calls: run.tools ? JSON.stringify(run.tools) : null,
      })
      .execute();
  }
}
