import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { EventStreamClient } from '../helpers/event-stream-client.js';
import { checkConsistency } from './consistency.js';
import { alice, endsOnce, followToTheEnd, idFaults, post, waitingRun } from './run-clients.js';
import { recordFigures } from './summary.js';

const LEASE_TTL_MS = 1500;

/** How often the janitor's tool really ran for a run: its rows in the database, whichever process. */
async function toolRuns(db: TestDatabase['db'], runId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM fixture_deleted_tasks WHERE run_id = ${runId}`.execute(db);
  return rows[0]!.n;
}

describePostgres('runs, followers and approvals when a process dies', () => {
  let database: TestDatabase;
  let survivor: AppProcess;
  const env = () => ({ DATABASE_URL: database.url!, LEASE_TTL_MS: String(LEASE_TTL_MS) });
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    survivor = await startAppProcess(env());
  });
  afterAll(async () => {
    await survivor.kill();
    await database.destroy();
  });

  it('ends every follower on another instance with run_expired when the running instance is SIGKILLed', async () => {
    // Answers of 100,000 words, one every 100 ms: surely in flight when the process dies.
    const victim = await startAppProcess({ ...env(), MODEL: 'words', WORDS: '100000', WORD_DELAY_MS: '100' });
    try {
      const runs = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          const client = await EventStreamClient.open(`${victim.url}/bard/stream`, { method: 'POST', headers: alice, body: { input: `doomed ${i}` } });
          const head = await client.until((event) => event.event === 'text.delta');
          return { chatId: head[0]!.data.session_id as string, runId: head[0]!.data.run_id as string };
        }),
      );
      // Two followers of each run on the survivor: of the run, and of the chat's active run.
      const followers = await Promise.all(
        runs.flatMap(({ chatId, runId }) =>
          [`/chats/${chatId}/runs/${runId}/stream`, `/chats/${chatId}/stream`].map(async (path) => {
            const client = await EventStreamClient.open(`${survivor.url}${path}`, { headers: alice });
            expect(client.status).toBe(200);
            return { client, first: await client.next() };
          }),
        ),
      );
      await victim.kill('SIGKILL');
      const killedAt = performance.now();
      const ends = await Promise.all(
        followers.map(async ({ client, first }) => ({ ...(await followToTheEnd(client, first ? [first] : [])), ms: performance.now() - killedAt })),
      );
      const expired = ends.filter(({ events }) => {
        const last = events.at(-1);
        return last?.event === 'run.failed' && last.data.error.code === 'run_expired' && endsOnce(events);
      });
      const faults = ends.map(({ events }) => idFaults(events));
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::integer AS n FROM agent_runs WHERE status = 'failed' AND error_code = 'run_expired'
      `.execute(database.db);
      recordFigures('followers of a run whose instance was SIGKILLed', {
        'runs in flight when it died': runs.length,
        'followers on the other instance': followers.length,
        'ended with run_expired': expired.length,
        'hung (must be 0)': ends.filter((end) => end.hung).length,
        'gaps or duplicate ids (must be 0)': faults.reduce((sum, { gaps, duplicates }) => sum + gaps + duplicates, 0),
        'slowest end after the kill (ms)': Math.round(Math.max(...ends.map((end) => end.ms))),
        'runs closed as run_expired': rows[0]!.n,
      });
      expect(ends.filter((end) => end.hung)).toEqual([]);
      expect(expired).toHaveLength(followers.length);
      expect(faults.every(({ gaps, duplicates }) => gaps === 0 && duplicates === 0)).toBe(true);
      expect(rows[0]!.n).toBe(runs.length);
    } finally {
      await victim.kill('SIGKILL');
    }
  });

  it('resumes on a new process the runs that waited for approval when their process died; each tool runs once', async () => {
    const first = await startAppProcess(env());
    let runs: Awaited<ReturnType<typeof waitingRun>>[];
    try {
      runs = await Promise.all(Array.from({ length: 5 }, (_, i) => waitingRun(first.url, `task ${i}`)));
    } finally {
      await first.kill('SIGKILL');
    }
    const restarted = await startAppProcess(env());
    try {
      const decide = (run: (typeof runs)[number]) =>
        post(`${restarted.url}/janitor/runs/${run.runId}/approvals`, { decisions: [{ call_id: run.callId, approved: true }] });
      const answers = await Promise.all(runs.map(decide));
      // A decision retried after the resume runs nothing.
      const retries = await Promise.all(runs.map(decide));
      const toolCounts = await Promise.all(runs.map((run) => toolRuns(database.db, run.runId)));
      const resumed = answers.filter(({ status, body }) => status === 200 && body.status === 'completed' && body.final_output === 'Done: the task is gone.');
      recordFigures('approval decided after its instance restarted', {
        'runs waiting when the instance died': runs.length,
        'resumed and completed on the new process': resumed.length,
        'retried decisions answered 409': retries.filter(({ status, body }) => status === 409 && body.error.code === 'run_not_awaiting_approval').length,
        'tool runs (must equal the runs)': toolCounts.reduce((sum, count) => sum + count, 0),
        'runs whose tool ran more than once (must be 0)': toolCounts.filter((count) => count > 1).length,
      });
      expect(resumed).toHaveLength(runs.length);
      expect(retries.map(({ status }) => status)).toEqual(runs.map(() => 409));
      expect(toolCounts).toEqual(runs.map(() => 1));
    } finally {
      await restarted.kill();
    }
  });

  it('gives 20 concurrent decisions and a cancel on one waiting run exactly one outcome, and runs the tool at most once', async () => {
    const second = await startAppProcess(env());
    const instances = [survivor, second];
    const rounds = 10;
    const outcomes = { completed: 0, cancelled: 0 };
    let answersOver500 = 0;
    let roundsWithNotOneWinner = 0;
    let toolRunsTotal = 0;
    let toolRanTwice = 0;
    let toolRanThoughCancelled = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        const run = await waitingRun(instances[round % 2]!.url, `contended ${round}`);
        const decide = (i: number) =>
          post(`${instances[i % 2]!.url}/janitor/runs/${run.runId}/approvals`, { decisions: [{ call_id: run.callId, approved: true }] });
        const cancelIt = () => post(`${instances[(round + 1) % 2]!.url}/chats/${run.chatId}/runs/${run.runId}/cancel`, {});
        // The cancel goes out before the decisions in even rounds, after them in odd ones, from
        // either instance, so that both kinds of request get to win.
        const cancel = round % 2 === 0 ? cancelIt() : undefined;
        const decisions = Array.from({ length: 20 }, (_, i) => decide(i));
        const [cancelAnswer, ...decisionAnswers] = await Promise.all([cancel ?? cancelIt(), ...decisions]);
        const all = [cancelAnswer, ...decisionAnswers];
        answersOver500 += all.filter(({ status }) => status >= 500).length;
        const { rows } = await sql<{ status: string }>`SELECT status FROM agent_runs WHERE id = ${run.runId}`.execute(database.db);
        const status = rows[0]!.status;
        const winners =
          status === 'completed'
            ? decisionAnswers.filter(({ status: code, body }) => code === 200 && body.status === 'completed').length +
              (cancelAnswer.status === 200 ? 1 : 0)
            : (cancelAnswer.status === 200 && cancelAnswer.body.status === 'cancelled' ? 1 : 0) +
              decisionAnswers.filter(({ status: code }) => code === 200).length;
        // Every other answer says the run was no longer waiting, finished, or cancelled.
        const refused = all.filter(
          ({ status: code, body }) => code === 409 && ['run_not_awaiting_approval', 'run_finished', 'run_cancelled'].includes(body?.error?.code),
        ).length;
        if (status === 'completed' || status === 'cancelled') outcomes[status]++;
        if (winners !== 1 || refused !== all.length - 1 || (status !== 'completed' && status !== 'cancelled')) roundsWithNotOneWinner++;
        const ran = await toolRuns(database.db, run.runId);
        toolRunsTotal += ran;
        if (ran > 1) toolRanTwice++;
        if (status === 'completed' && ran !== 1) toolRanTwice++;
        if (status === 'cancelled' && ran > 0) toolRanThoughCancelled++;
      }
      const report = await checkConsistency(database.db, []);
      recordFigures('20 decisions and a cancel on one waiting run', {
        'rounds played': rounds,
        'requests per round': 21,
        'won by a decision (completed)': outcomes.completed,
        'won by the cancel': outcomes.cancelled,
        'rounds without exactly one outcome (must be 0)': roundsWithNotOneWinner,
        'answers ≥ 500 (must be 0)': answersOver500,
        'tool runs': toolRunsTotal,
        'tool run twice, or not by a completed run (must be 0)': toolRanTwice,
        'tool runs of runs that were cancelled after resuming': toolRanThoughCancelled,
        'tool calls without an output (must be 0)': report.callsWithoutOutput,
        'half turns (must be 0)': report.halfTurnItems,
        'counter mismatches (must be 0)': report.counterMismatches,
      });
      expect(answersOver500).toBe(0);
      expect(roundsWithNotOneWinner).toBe(0);
      expect(toolRanTwice).toBe(0);
      expect(report).toMatchObject({ callsWithoutOutput: 0, halfTurnItems: 0, brokenTurns: 0, counterMismatches: 0, duplicateTurns: 0, runsLeftRunning: 0 });
    } finally {
      await second.kill();
    }
  });
});
