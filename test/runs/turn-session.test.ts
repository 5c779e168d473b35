import { randomUUID } from 'node:crypto';
import type { AgentInputItem } from '@openai/agents';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { historyWindow } from '../../src/runs/history-window.js';
import { TurnSession } from '../../src/runs/turn-session.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { brokenPromises, historyArbitrary } from '../fixtures/histories.js';

const assistant = (text: string): AgentInputItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const call = (id: string): AgentInputItem => ({ type: 'function_call', callId: id, name: 'f', arguments: '{}' });
const result = (id: string): AgentInputItem => ({
  type: 'function_call_result',
  callId: id,
  name: 'f',
  status: 'completed',
  output: 'x',
});

describePostgres('TurnSession with historyLimit', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('never hands the runner a result without its call: limit 4 on call A, call B, result A, result B, message', async () => {
    const history = new PostgresSession({ db: database.db });
    await history.addItems([call('A'), call('B'), result('A'), result('B'), assistant('done')]);
    const sessionId = await history.getSessionId();
    expect(await new TurnSession(database.db, sessionId, 4).getItems()).toEqual([assistant('done')]);
    // An explicit limit is the plain session's, as before.
    expect(await new TurnSession(database.db, sessionId, 4).getItems(2)).toEqual([result('B'), assistant('done')]);
  });

  it('returns a window that keeps every promise for generated histories stored in PostgreSQL', async () => {
    await fc.assert(
      fc.asyncProperty(historyArbitrary(), fc.integer({ min: 1, max: 25 }), async (generated, limit) => {
        const sessionId = randomUUID();
        // Stored as runs store them: one addItems per turn.
        const writer = new PostgresSession({ db: database.db, sessionId });
        for (const turn of turns(generated.items)) await writer.addItems(turn);
        const window = await new TurnSession(database.db, sessionId, limit).getItems();
        expect(brokenPromises(generated, limit, window)).toEqual([]);
        expect(window).toEqual(historyWindow(generated.items, limit));
      }),
      { numRuns: 50 },
    );
  });
});

/** Splits a history before each user message. */
function turns(items: AgentInputItem[]): AgentInputItem[][] {
  const result: AgentInputItem[][] = [];
  for (const item of items) {
    if (result.length === 0 || ('role' in item && item.role === 'user')) result.push([]);
    result.at(-1)!.push(item);
  }
  return result;
}
