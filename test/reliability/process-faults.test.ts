import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expireStaleRuns } from '../../src/runs/run-queries.js';
import { sleep, startAppProcess, type AppProcess } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { call, tally, type CallOutcome } from './clients.js';
import { checkConsistency } from './consistency.js';
import { recordFigures } from './summary.js';

const LEASE_TTL_MS = 1500;

describePostgres('an instance killed in the middle of runs', () => {
  let database: TestDatabase;
  let victim: AppProcess;
  let survivor: AppProcess;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url!, LEASE_TTL_MS: String(LEASE_TTL_MS) };
    // The victim's model takes 5 s, so that its runs are surely in flight when it dies.
    [victim, survivor] = await Promise.all([startAppProcess({ ...env, ECHO_DELAY_MS: '5000' }), startAppProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([victim.kill('SIGKILL'), survivor.kill()]);
    await database.destroy();
  });

  it('lets the other instance use those sessions once the leases expire, and closes the dead runs', async () => {
    const sessions: string[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await fetch(`${survivor.url}/chats`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: '{}',
      });
      sessions.push(((await response.json()) as { chat_id: string }).chat_id);
    }
    // Runs in flight on the victim, on every session (one per session: it holds the leases).
    const doomed = sessions.map((sessionId, i) =>
      call(victim.url, i % 2 ? 'run' : 'stream', { input: `doomed ${i}`, session_id: sessionId }, 'alice', 30_000),
    );
    for (;;) {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM agent_runs WHERE status = 'running'`.execute(database.db);
      if (Number(rows[0]!.n) === sessions.length) break;
      await sleep(50);
    }
    await victim.kill('SIGKILL');
    const victimsClients = await Promise.all(doomed);
    expect(victimsClients.every((outcome) => outcome.status === 0)).toBe(true);

    // The survivor is refused while the leases live, then takes every session over.
    const outcomes: CallOutcome[] = [];
    const busyBeforeExpiry = await Promise.all(
      sessions.map((sessionId) => call(survivor.url, 'run', { input: `too soon ${randomUUID()}`, session_id: sessionId })),
    );
    outcomes.push(...busyBeforeExpiry);
    expect(busyBeforeExpiry.every((outcome) => outcome.status === 409)).toBe(true);
    for (const sessionId of sessions) {
      let outcome: CallOutcome;
      do {
        outcome = await call(survivor.url, 'run', { input: `taken over ${randomUUID()}`, session_id: sessionId });
        outcomes.push(outcome);
        if (outcome.status === 409) await sleep(200);
      } while (outcome.status === 409);
      expect(outcome.status).toBe(200);
    }
    const { rows: dead } = await sql<{ status: string; error_code: string }>`
      SELECT status, error_code FROM agent_runs WHERE input->>'v' LIKE 'doomed %'
    `.execute(database.db);
    expect(dead).toHaveLength(sessions.length);
    expect(dead.every((run) => run.status === 'failed' && run.error_code === 'run_expired')).toBe(true);
    expect(await expireStaleRuns(database.db)).toBe(0);

    const report = await checkConsistency(database.db, outcomes);
    const counts = tally(outcomes);
    recordFigures('an instance killed with SIGKILL mid-run', {
      'runs in flight when it died': sessions.length,
      'requests to the survivor': outcomes.length,
      '409 while the leases lived': counts['409'] ?? 0,
      'sessions taken over': counts['200'] ?? 0,
      'dead runs closed as run_expired': dead.length,
      'runs left running (must be 0)': report.runsLeftRunning,
      'items lost (must be 0)': report.itemsLost,
      'half turns (must be 0)': report.halfTurnItems,
    });
    expect(report).toMatchObject({ itemsLost: 0, halfTurnItems: 0, brokenTurns: 0, counterMismatches: 0, runsLeftRunning: 0 });
  });

  it('drains on SIGTERM: runs in progress finish and are stored before the process exits', async () => {
    const graceful = await startAppProcess({
      DATABASE_URL: database.url!,
      ECHO_DELAY_MS: '800',
      LEASE_TTL_MS: String(LEASE_TTL_MS),
    });
    const response = await fetch(`${graceful.url}/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: '{}',
    });
    const sessionId = ((await response.json()) as { chat_id: string }).chat_id;
    const inFlight = call(graceful.url, 'run', { input: 'finish me', session_id: sessionId });
    for (;;) {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM agent_runs WHERE session_id = ${sessionId}`.execute(database.db);
      if (Number(rows[0]!.n) === 1) break;
      await sleep(20);
    }
    const exited = new Promise<number | null>((resolve) => graceful.child.once('exit', (code) => resolve(code)));
    graceful.child.kill('SIGTERM');
    const outcome = await inFlight;
    expect(outcome.status).toBe(200);
    expect(await exited).toBe(0);
    const { rows } = await sql<{ status: string; lease: string | null }>`
      SELECT r.status, c.lease_run_id AS lease FROM agent_runs r JOIN agent_chats c ON c.id = r.session_id WHERE r.session_id = ${sessionId}
    `.execute(database.db);
    expect(rows).toEqual([{ status: 'completed', lease: null }]);
    recordFigures('graceful shutdown on SIGTERM', { 'runs finished while draining': 1, 'exit code': 0 });
  });
});
