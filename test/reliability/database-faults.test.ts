import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expireStaleRuns } from '../../src/runs/run-queries.js';
import { sleep, startAppProcess, type AppProcess } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { call, tally, type CallOutcome } from './clients.js';
import { checkConsistency } from './consistency.js';
import { adminQuery, databaseOutage } from './database-server.js';
import { recordFigures } from './summary.js';

const LEASE_TTL_MS = 1500;

describePostgres('database faults under load', () => {
  let database: TestDatabase;
  let app: AppProcess;
  let sessions: string[];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    app = await startAppProcess({
      DATABASE_URL: database.url!,
      ECHO_DELAY_MS: '60',
      ECHO_JITTER: '1',
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      APP_NAME: 'fault-target',
    });
  });
  afterAll(async () => {
    await app.kill();
    await database.destroy();
  });

  /** Clients, one per session, calling in a loop until `stop` says so. */
  async function load(stop: () => boolean): Promise<CallOutcome[]> {
    const outcomes: CallOutcome[] = [];
    await Promise.all(
      sessions.map(async (sessionId, client) => {
        for (let i = 0; !stop(); i++) {
          outcomes.push(await call(app.url, (client + i) % 2 ? 'run' : 'stream', { input: `c${client} r${i} ${randomUUID()}`, session_id: sessionId }));
          await sleep(10);
        }
      }),
    );
    return outcomes;
  }

  /** After a fault: every session accepts a run again once leases have expired. */
  async function everySessionWorksAgain(): Promise<CallOutcome[]> {
    const outcomes: CallOutcome[] = [];
    for (const sessionId of sessions) {
      const deadline = Date.now() + LEASE_TTL_MS + 10_000;
      let outcome: CallOutcome;
      do {
        outcome = await call(app.url, 'run', { input: `after ${randomUUID()}`, session_id: sessionId });
        outcomes.push(outcome);
        if (outcome.status !== 200) await sleep(200);
      } while (outcome.status !== 200 && Date.now() < deadline);
      expect(outcome.status).toBe(200);
    }
    return outcomes;
  }

  async function createSessions(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${app.url}/chats`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: '{}',
      });
      ids.push(((await response.json()) as { chat_id: string }).chat_id);
    }
    return ids;
  }

  async function verify(label: string, outcomes: CallOutcome[], recovery: CallOutcome[]) {
    const all = [...outcomes, ...recovery];
    // Never a 500, a hang or a dropped connection: success, busy, or 503 database_unavailable.
    const unexpected = outcomes.filter(
      (o) => !(o.status === 200 || (o.status === 409 && o.code === 'session_busy') || (o.status === 503 && o.code === 'database_unavailable')),
    );
    expect(unexpected).toEqual([]);
    expect(app.child.exitCode).toBeNull();
    await expireStaleRuns(database.db, { graceMs: 0 });
    const report = await checkConsistency(database.db, all);
    const counts = tally(outcomes);
    recordFigures(label, {
      'requests sent': outcomes.length,
      successes: counts['200'] ?? 0,
      '409 session_busy': counts['409'] ?? 0,
      '503 in the fault window': counts['503'] ?? 0,
      'slowest answer in the window (ms)': Math.round(Math.max(...outcomes.map((o) => o.ms))),
      'sessions working again after it': sessions.length,
      'turns checked': report.turnsChecked,
      'items lost (must be 0)': report.itemsLost,
      'half turns (must be 0)': report.halfTurnItems,
      'whole turns stored though the reply was lost': report.storedThoughFailed,
      'counter mismatches (must be 0)': report.counterMismatches,
    });
    expect(counts['503'] ?? 0).toBeGreaterThan(0);
    expect(report).toMatchObject({
      itemsLost: 0,
      duplicateTurns: 0,
      brokenTurns: 0,
      halfTurnItems: 0,
      counterMismatches: 0,
      runsLeftRunning: 0,
    });
  }

  it('answers 503 while connections are being killed, then recovers without a restart', async () => {
    sessions = await createSessions(10);
    let stop = false;
    const running = load(() => stop);
    await sleep(500);
    for (let kill = 0; kill < 5; kill++) {
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fault-target'`);
      await sleep(150);
    }
    stop = true;
    const outcomes = await running;
    const recovery = await everySessionWorksAgain();
    await verify('pg_terminate_backend under load', outcomes, recovery);
  });

  it('answers 503 while the server is down, then recovers without a restart of the app', async () => {
    sessions = await createSessions(10);
    let stop = false;
    const running = load(() => stop);
    await sleep(500);
    await databaseOutage(() => sleep(1500));
    await sleep(500);
    stop = true;
    const outcomes = await running;
    const recovery = await everySessionWorksAgain();
    await verify('PostgreSQL restarted under load', outcomes, recovery);
  });
});
