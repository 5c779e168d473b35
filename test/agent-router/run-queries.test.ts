import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endRunWithoutTurn, startRunOnNewChat } from '../../src/agent-router/run-queries.js';
import { encodeTaggedJson } from '../../src/db/item-codec.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';

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
      streamed: false,
      input: encodeTaggedJson('hi'),
      leaseTtlMs: 30_000,
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
