import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../helpers/agents.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { EventStreamClient, isTerminal } from '../helpers/event-stream-client.js';

const alice = { 'x-user-id': 'alice' };
const WORDS = 60;

/**
 * Runs that outlive their request, across two app processes on one database: instance A runs,
 * instance B follows, resumes, cancels. Instance B has never seen the run in memory, so all it
 * knows comes from PostgreSQL.
 */
describePostgres('durable runs across two instances', () => {
  let database: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  const env = () => ({
    DATABASE_URL: database.url!,
    MODEL: 'words',
    WORDS: String(WORDS),
    WORD_DELAY_MS: '25',
    LEASE_TTL_MS: '1000',
    HEARTBEAT_MS: '200',
  });
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    [a, b] = await Promise.all([startAppProcess(env()), startAppProcess(env())]);
  });
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await database.destroy();
  });

  const recorded = async (runId: string) =>
    (
      await sql<{ id: number; event: string }>`SELECT id, event FROM agent_run_events WHERE run_id = ${runId} ORDER BY id`.execute(
        database.db,
      )
    ).rows.map((row) => ({ id: Number(row.id), event: row.event }));

  const ids = (events: { id: number }[]) => events.map((event) => event.id);

  it('lets a /stream client that dropped mid-answer reconnect on the other instance and get the rest, exactly once', async () => {
    const client = await EventStreamClient.open(`${a.url}/bard/stream`, { method: 'POST', headers: alice, body: { input: 'Tell me' } });
    const seen = await client.until((event) => event.event === 'text.delta' && event.data.delta === ' w10');
    client.close();
    const { session_id: chatId, run_id: runId } = seen[0]!.data;
    const last = seen.at(-1)!.id;
    const resumed = await EventStreamClient.open(`${b.url}/chats/${chatId}/runs/${runId}/stream`, {
      headers: { ...alice, 'last-event-id': String(last) },
    });
    const rest = await resumed.rest();
    const union = [...seen, ...rest];
    // Every event of the run, in order, once: ids 1..N without gap or repeat, ending with the terminal one.
    expect(ids(union)).toEqual(Array.from({ length: union.length }, (_, i) => i + 1));
    expect(union.map(({ id, event }) => ({ id, event }))).toEqual(await recorded(runId));
    expect(union.filter(isTerminal).map((event) => event.event)).toEqual(['run.completed']);
    expect(union.filter((event) => event.event === 'text.delta').map((event) => event.data.delta).join('')).toBe(
      Array.from({ length: WORDS }, (_, i) => `w${i + 1}`).join(' '),
    );
  });

  it('shows three followers on two instances the same events, as they happen', async () => {
    const started = await fetch(`${a.url}/bard/run`, {
      method: 'POST',
      headers: { ...alice, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'In the background', background: true }),
    });
    expect(started.status).toBe(202);
    const { run_id: runId, session_id: chatId } = (await started.json()) as { run_id: string; session_id: string };
    const path = `/chats/${chatId}/runs/${runId}/stream`;
    const followers = await Promise.all([
      EventStreamClient.open(`${a.url}${path}`, { headers: alice }),
      EventStreamClient.open(`${b.url}${path}`, { headers: alice }),
      EventStreamClient.open(`${b.url}/chats/${chatId}/stream`, { headers: alice }),
    ]);
    const sequences = await Promise.all(followers.map((follower) => follower.rest()));
    expect(sequences[0]!.at(-1)).toMatchObject({ event: 'run.completed' });
    expect(sequences[1]).toEqual(sequences[0]);
    expect(sequences[2]).toEqual(sequences[0]);
    expect(sequences[0]!.map(({ id, event }) => ({ id, event }))).toEqual(await recorded(runId));
  });

  it('ends a follower on instance B whose Last-Event-ID is past anything the run records, once the run ends', async () => {
    const started = await fetch(`${a.url}/bard/run`, {
      method: 'POST',
      headers: { ...alice, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'In the background', background: true }),
    });
    const { run_id: runId, session_id: chatId } = (await started.json()) as { run_id: string; session_id: string };
    const follower = await EventStreamClient.open(`${b.url}/chats/${chatId}/runs/${runId}/stream`, {
      headers: { ...alice, 'last-event-id': '100000' },
    });
    expect(follower.status).toBe(200);
    // Nothing after id 100000 will ever come: the stream ends with the run, within a stale check.
    expect(await follower.rest()).toEqual([]);
    expect((await recorded(runId)).at(-1)).toMatchObject({ event: 'run.completed' });
  });

  it('stops a run held by instance A with a cancel sent to instance B', async () => {
    const client = await EventStreamClient.open(`${a.url}/bard/stream`, { method: 'POST', headers: alice, body: { input: 'Talk' } });
    const head = await client.until((event) => event.event === 'text.delta' && event.data.delta === ' w3');
    const { session_id: chatId, run_id: runId } = head[0]!.data;
    const sent = performance.now();
    const cancel = await fetch(`${b.url}/chats/${chatId}/runs/${runId}/cancel`, { method: 'POST', headers: alice });
    const tail = await client.rest();
    const took = performance.now() - sent;
    console.log(`cancel sent to instance B stopped the run on instance A in ${took.toFixed(0)} ms`);
    expect([200, 202]).toContain(cancel.status);
    expect(tail.filter(isTerminal)).toEqual([expect.objectContaining({ event: 'run.cancelled', data: { error: expect.objectContaining({ code: 'run_cancelled' }) } })]);
    const { rows } = await sql<{ status: string; lease_run_id: string | null }>`
      SELECT run.status, chat.lease_run_id FROM agent_runs run JOIN agent_chats chat ON chat.id = run.session_id WHERE run.id = ${runId}
    `.execute(database.db);
    expect(rows).toEqual([{ status: 'cancelled', lease_run_id: null }]);
  });

  it('ends every follower of a run whose instance was SIGKILLed with run_expired', async () => {
    const doomed = await startAppProcess({ ...env(), WORDS: '100000', WORD_DELAY_MS: '100' });
    try {
      const client = await EventStreamClient.open(`${doomed.url}/bard/stream`, { method: 'POST', headers: alice, body: { input: 'Forever' } });
      const head = await client.until((event) => event.event === 'text.delta');
      const { session_id: chatId, run_id: runId } = head[0]!.data;
      const followers = await Promise.all(
        [a, b].map((instance) => EventStreamClient.open(`${instance.url}/chats/${chatId}/runs/${runId}/stream`, { headers: alice })),
      );
      await Promise.all(followers.map((follower) => follower.next()));
      await doomed.kill('SIGKILL');
      const ends = await Promise.all(followers.map(async (follower) => (await follower.rest()).at(-1)));
      for (const end of ends) expect(end).toMatchObject({ event: 'run.failed', data: { error: { code: 'run_expired' } } });
    } finally {
      await doomed.kill('SIGKILL');
    }
  });

  it('resumes on a fresh process a run that waited for approval on a process that has since stopped; the tool runs once', async () => {
    const first = await startAppProcess(env());
    const waiting = await fetch(`${first.url}/janitor/run`, {
      method: 'POST',
      headers: { ...alice, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'groceries' }),
    }).then((response) => response.json() as Promise<any>);
    expect(waiting).toMatchObject({ status: 'awaiting_approval', approvals: [{ tool_name: 'delete_task' }] });
    await first.kill('SIGKILL');
    const fresh = await startAppProcess(env());
    try {
      const decide = () =>
        fetch(`${fresh.url}/janitor/runs/${waiting.run_id}/approvals`, {
          method: 'POST',
          headers: { ...alice, 'content-type': 'application/json' },
          body: JSON.stringify({ decisions: [{ call_id: waiting.approvals[0].call_id, approved: true }] }),
        });
      const [one, two] = await Promise.all([decide(), decide()]);
      const statuses = [one.status, two.status].sort();
      expect(statuses).toEqual([200, 409]);
      const done = (await (one.status === 200 ? one : two).json()) as any;
      expect(done).toMatchObject({ status: 'completed', run_id: waiting.run_id, final_output: 'Done: the task is gone.' });
      const again = await decide();
      expect(again.status).toBe(409);
      const { rows } = await sql<{ task: string }>`SELECT task FROM fixture_deleted_tasks WHERE run_id = ${waiting.run_id}`.execute(database.db);
      expect(rows).toEqual([{ task: 'groceries' }]);
    } finally {
      await fresh.kill();
    }
  });
});
