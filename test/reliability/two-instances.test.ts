import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { call, tally, type CallOutcome } from './clients.js';
import { checkConsistency } from './consistency.js';
import { recordFigures } from './summary.js';

describePostgres('two app instances on one database', () => {
  let database: TestDatabase;
  let instances: AppProcess[];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url!, ECHO_DELAY_MS: '30', ECHO_JITTER: '1' };
    instances = await Promise.all([startAppProcess(env), startAppProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.kill()));
    await database.destroy();
  });

  it('keeps 200 concurrent /run and /stream calls over 20 sessions whole, once each, with exact counters', async () => {
    // The 20 chats, created through one instance's chat API.
    const sessions: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${instances[i % 2]!.url}/chats`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify({ title: `session ${i}` }),
      });
      sessions.push(((await response.json()) as { chat_id: string }).chat_id);
    }
    // 40 clients, two per session (one on each instance), each sending 5 requests in a row:
    // 200 requests, with the two clients of a session contending for it all along.
    const clients = Array.from({ length: 40 }, async (_, client) => {
      const outcomes: CallOutcome[] = [];
      for (let i = 0; i < 5; i++) {
        outcomes.push(
          await call(instances[client % 2]!.url, (client + i) % 3 === 0 ? 'stream' : 'run', {
            input: `client ${client} request ${i} ${randomUUID()}`,
            session_id: sessions[client % 20]!,
          }),
        );
      }
      return outcomes;
    });
    const outcomes = (await Promise.all(clients)).flat();
    const counts = tally(outcomes);
    // Every request got a success or a 409 session_busy; nothing else.
    expect(Object.keys(counts).sort()).toEqual(expect.arrayContaining(['200']));
    expect(outcomes.filter((o) => o.status !== 200 && !(o.status === 409 && o.code === 'session_busy'))).toEqual([]);

    const report = await checkConsistency(database.db, outcomes);
    recordFigures('two instances, one database', {
      'requests sent': outcomes.length,
      successes: counts['200'] ?? 0,
      '409 session_busy': counts['409'] ?? 0,
      'turns checked': report.turnsChecked,
      'items lost (must be 0)': report.itemsLost,
      'duplicate turns (must be 0)': report.duplicateTurns,
      'broken turns (must be 0)': report.brokenTurns,
      'counter mismatches (must be 0)': report.counterMismatches,
    });
    expect(report).toEqual({
      turnsChecked: counts['200'],
      itemsLost: 0,
      duplicateTurns: 0,
      storedThoughFailed: 0,
      brokenTurns: 0,
      halfTurnItems: 0,
      callsWithoutOutput: 0,
      counterMismatches: 0,
      runsLeftRunning: 0,
    });
    // Contention happened: the test would prove nothing if every call had its session to itself.
    expect(counts['409'] ?? 0).toBeGreaterThan(0);
  });
});
