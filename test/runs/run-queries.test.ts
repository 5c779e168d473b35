import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  endRunWithoutTurn,
  expireStaleRuns,
  finishRunWithTurn,
  startRunOnNewChat,
} from '../../src/runs/run-queries.js';
import { encodeTaggedJson } from '../../src/db/item-codec.js';
import { sleep } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';

describeEachEngine('run records', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database.destroy());

  it('counts a failed run’s tokens on its chat once, however often its end is recorded', async () => {
    const chatId = randomUUID();
    const runId = randomUUID();
    await startRunOnNewChat(database.db, {
      chatId,
      title: null,
      runId,
      userId: 'u',
      agentName: 'A',
      prefix: '/a',
      streamed: false,
      background: false,
      input: encodeTaggedJson('hi'),
      leaseTtlMs: 30_000,
      firstEvent: { id: 1, event: 'run.started', data: '{}' },
      state: '{}',
    });
    const end = {
      chatId,
      runId,
      status: 'failed' as const,
      errorCode: 'model_error',
      errorMessage: 'The model failed.',
      lastAgentName: null,
      usage: { requests: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 },
      durationMs: 3,
      toolCalls: '{}',
      events: [{ id: 2, event: 'run.failed', data: '{"error":{"code":"model_error","message":"The model failed."}}' }],
    };
    // As a retry after a lost reply would.
    await endRunWithoutTurn(database.db, end);
    await endRunWithoutTurn(database.db, end);
    const { rows } = await sql<{ total_tokens: string | number; lease_run_id: string | null; status: string }>`
      SELECT chat.total_tokens, chat.lease_run_id, run.status
      FROM agent_chats chat JOIN agent_runs run ON run.session_id = chat.id WHERE chat.id = ${chatId}
    `.execute(database.db);
    expect(rows.map((row) => ({ ...row, total_tokens: Number(row.total_tokens) }))).toEqual([
      { total_tokens: 15, lease_run_id: null, status: 'failed' },
    ]);
  });
});

describePostgres('closing stale runs races no live run', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  /** A run holding its chat's lease, which lapsed an hour ago (its process looks dead). */
  async function staleRun() {
    const chatId = randomUUID();
    const runId = randomUUID();
    await startRunOnNewChat(database.db, {
      chatId,
      title: null,
      runId,
      userId: 'u',
      agentName: 'A',
      prefix: '/a',
      streamed: false,
      background: false,
      input: encodeTaggedJson('hi'),
      leaseTtlMs: 30_000,
      firstEvent: { id: 1, event: 'run.started', data: '{}' },
      state: '{}',
    });
    await sql`UPDATE agent_chats SET lease_expires_at = now() - interval '1 hour' WHERE id = ${chatId}`.execute(database.db);
    return { chatId, runId };
  }

  const statusOf = async (runId: string) =>
    (await sql<{ status: string }>`SELECT status FROM agent_runs WHERE id = ${runId}`.execute(database.db)).rows[0]!.status;

  it('leaves alone a run that renews its lease while the sweep looks at it', async () => {
    const { chatId, runId } = await staleRun();
    // The renewal is under way (its transaction holds the chat row) when the sweep starts.
    const client = new pg.Client({ ...database.pool, max: undefined } as pg.ClientConfig);
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `UPDATE agent_chats SET lease_expires_at = now() + interval '30 seconds' WHERE id = $1 AND lease_run_id = $2`,
        [chatId, runId],
      );
      const sweep = expireStaleRuns(database.db, { graceMs: 1_000 });
      await sleep(300);
      await client.query('COMMIT');
      expect(await sweep).toBe(0);
    } finally {
      await client.end();
    }
    expect(await statusOf(runId)).toBe('running');
    // And it can still complete.
    const written = await finishRunWithTurn(database.db, completion(chatId, runId));
    expect(written).toBe('written');
    expect(await statusOf(runId)).toBe('completed');
  });

  it('never completes a run that was closed meanwhile, and writes none of its turn', async () => {
    const { chatId, runId } = await staleRun();
    expect(await expireStaleRuns(database.db, { graceMs: 1_000 })).toBe(1);
    // The closed run's process comes back and tries to record its turn.
    expect(await finishRunWithTurn(database.db, completion(chatId, runId))).toBe('lease_lost');
    expect(await statusOf(runId)).toBe('failed');
    const items = await sql`SELECT 1 FROM agent_items WHERE session_id = ${chatId}`.execute(database.db);
    expect(items.rows).toHaveLength(0);
  });

  it('does not complete a run that is no longer running even while it still holds the lease', async () => {
    const { chatId, runId } = await staleRun();
    await sql`UPDATE agent_chats SET lease_expires_at = now() + interval '30 seconds' WHERE id = ${chatId}`.execute(database.db);
    await sql`UPDATE agent_runs SET status = 'failed', error_code = 'run_expired' WHERE id = ${runId}`.execute(database.db);
    expect(await finishRunWithTurn(database.db, completion(chatId, runId))).toBe('lease_lost');
    expect(await statusOf(runId)).toBe('failed');
  });
});

function completion(chatId: string, runId: string) {
  return {
    chatId,
    runId,
    end: { status: 'completed' as const, finalOutput: encodeTaggedJson('done') },
    cleared: false,
    removed: [],
    items: { json: [JSON.stringify({ role: 'user', content: 'hi' })] },
    itemAgents: ['A'],
    lastAgentName: 'A',
    usage: { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0 },
    durationMs: 1,
    toolCalls: '{}',
    events: [{ id: 2, event: 'run.completed', data: '{}' }],
  };
}
