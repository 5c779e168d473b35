import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sleep, startAppProcess, type AppProcess, type SseEvent } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { EventStreamClient } from '../helpers/event-stream-client.js';
import { checkConsistency } from './consistency.js';
import { databaseOutage } from './database-server.js';
import { alice, endsOnce, followToTheEnd, idFaults, post, waitingRun } from './run-clients.js';
import { recordFigures } from './summary.js';

const LEASE_TTL_MS = 1500;

/** Starts a streamed /bard run on `url` and reads it up to its first text. */
async function streamedRun(url: string, input: string) {
  const client = await EventStreamClient.open(`${url}/bard/stream`, { method: 'POST', headers: alice, body: { input } });
  const head = await client.until((event) => event.event === 'text.delta');
  return { client, head, chatId: head[0]!.data.session_id as string, runId: head[0]!.data.run_id as string };
}

async function runStatus(db: TestDatabase['db'], runId: string): Promise<string> {
  const { rows } = await sql<{ status: string }>`SELECT status FROM agent_runs WHERE id = ${runId}`.execute(db);
  return rows[0]!.status;
}

describePostgres('runs, followers and cancels when PostgreSQL goes away', () => {
  let database: TestDatabase;
  let runner: AppProcess;
  let other: AppProcess;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url!, LEASE_TTL_MS: String(LEASE_TTL_MS) };
    // The runner's answers are 400 words, one every 25 ms (10 s): in flight across the outage.
    [runner, other] = await Promise.all([
      startAppProcess({ ...env, MODEL: 'words', WORDS: '400', WORD_DELAY_MS: '25' }),
      startAppProcess(env),
    ]);
  });
  afterAll(async () => {
    await Promise.all([runner.kill(), other.kill()]);
    await database.destroy();
  });

  it('gives followers of a streamed run contiguous events across a restart of PostgreSQL, up to a terminal event', async () => {
    const runs = await Promise.all([0, 1, 2].map((i) => streamedRun(runner.url, `across the restart ${i}`)));
    // Each run followed on the instance that runs it and on the other one.
    const followers = await Promise.all(
      runs.flatMap(({ chatId, runId }) =>
        [runner, other].map(async (instance) => {
          const client = await EventStreamClient.open(`${instance.url}/chats/${chatId}/runs/${runId}/stream`, { headers: alice });
          expect(client.status).toBe(200);
          const first = await client.next();
          return { client, seen: first ? [first] : [] };
        }),
      ),
    );
    const { rows: before } = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM agent_run_events`.execute(database.db);
    await databaseOutage(() => sleep(1500));
    const [followed, streamed] = await Promise.all([
      Promise.all(followers.map(({ client, seen }) => followToTheEnd(client, seen))),
      Promise.all(runs.map(({ client, head }) => followToTheEnd(client, head))),
    ]);
    const all = [...followed, ...streamed];
    const faults = all.map(({ events }) => idFaults(events));
    const terminals = new Map<string, number>();
    for (const { events } of followed) {
      const last = events.at(-1) as SseEvent | undefined;
      const name = last ? `${last.event}${last.data.error ? ` ${last.data.error.code}` : ''}` : 'none';
      terminals.set(name, (terminals.get(name) ?? 0) + 1);
    }
    const statuses = await Promise.all(runs.map(({ runId }) => runStatus(database.db, runId)));
    const { rows: after } = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM agent_run_events`.execute(database.db);
    recordFigures('PostgreSQL restarted under a followed stream', {
      'streamed runs in flight': runs.length,
      'events recorded before the restart': before[0]!.n,
      'events recorded after it': after[0]!.n - before[0]!.n,
      'followers (on its instance and on another)': followers.length,
      'events the followers got': followed.reduce((sum, { events }) => sum + events.length, 0),
      'gaps (must be 0)': faults.reduce((sum, { gaps }) => sum + gaps, 0),
      'duplicate ids (must be 0)': faults.reduce((sum, { duplicates }) => sum + duplicates, 0),
      'followers ending on one terminal event': followed.filter(({ events }) => endsOnce(events)).length,
      'hung (must be 0)': all.filter(({ hung }) => hung).length,
      ...Object.fromEntries([...terminals].map(([name, count]) => [`ended with ${name}`, count])),
      'runs left running (must be 0)': statuses.filter((status) => status === 'running').length,
    });
    expect(all.filter(({ hung }) => hung)).toEqual([]);
    expect(faults).toEqual(all.map(() => ({ gaps: 0, duplicates: 0 })));
    expect(followed.every(({ events }) => endsOnce(events))).toBe(true);
    // A follower sees what the run's own client saw, to the last event.
    for (const [index, { events }] of followed.entries()) {
      expect(events.map(({ id, event }) => `${id} ${event}`)).toEqual(streamed[Math.floor(index / 2)]!.events.map(({ id, event }) => `${id} ${event}`));
    }
    expect(statuses.filter((status) => status === 'running')).toEqual([]);
    // The runs were still going when the server went away.
    expect(after[0]!.n).toBeGreaterThan(before[0]!.n + runs.length);
  });

  it('answers a cancel sent during an outage with 503 and the JSON envelope, and carries out one sent after it', async () => {
    const running = await streamedRun(runner.url, 'cancel me');
    const waiting = await waitingRun(other.url, 'cancel me too');
    const targets = [
      { chatId: running.chatId, runId: running.runId, kind: 'running' },
      { chatId: waiting.chatId, runId: waiting.runId, kind: 'waiting' },
    ];
    // Sent to the instance that does not run the run: it has only the database to go through.
    const cancel = (target: (typeof targets)[number]) => post(`${other.url}/chats/${target.chatId}/runs/${target.runId}/cancel`, {});
    const duringOutage = await databaseOutage(() => Promise.all(targets.map(cancel)));
    const afterRecovery = await Promise.all(targets.map(cancel));
    const streamEnd = (await followToTheEnd(running.client, running.head)).events.at(-1);
    const statuses = await Promise.all(targets.map(({ runId }) => runStatus(database.db, runId)));
    const enveloped = duringOutage.filter(
      ({ status, type, body }) =>
        status === 503 && type.startsWith('application/json') && body?.success === false && body.error?.code === 'database_unavailable',
    );
    const report = await checkConsistency(database.db, []);
    recordFigures('cancel during a database outage', {
      'cancels sent during the outage': duringOutage.length,
      '503 database_unavailable with the envelope': enveloped.length,
      'cancels sent after recovery': afterRecovery.length,
      'answered 200 cancelled': afterRecovery.filter(({ status, body }) => status === 200 && body.status === 'cancelled').length,
      'runs recorded cancelled': statuses.filter((status) => status === 'cancelled').length,
      'tool calls without an output (must be 0)': report.callsWithoutOutput,
    });
    expect(duringOutage.map(({ status }) => status)).toEqual([503, 503]);
    expect(enveloped).toHaveLength(2);
    expect(afterRecovery.map(({ status, body }) => [status, body])).toEqual(
      targets.map(({ runId }) => [200, { run_id: runId, status: 'cancelled' }]),
    );
    expect(streamEnd).toMatchObject({ event: 'run.cancelled', data: { error: { code: 'run_cancelled' } } });
    expect(statuses).toEqual(['cancelled', 'cancelled']);
    expect(report).toMatchObject({ callsWithoutOutput: 0, halfTurnItems: 0, counterMismatches: 0, runsLeftRunning: 0 });
  });
});
