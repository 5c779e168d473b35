import { Agent, RunState, tool, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents/testing';
import { z } from 'zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import {
  lossyReplies,
  observe,
  playBoth,
  runToEnd,
  shape,
  type Backend,
  type TransactionLog,
} from './harness.js';

/**
 * Tool approval (`needsApproval`) as a web app does it: the interrupted run's state is sent to
 * the client as `state.toString()`, and the approval arrives in a later request that rebuilds it
 * with `RunState.fromString` and resumes on a new session object.
 */

function guardedTool() {
  const runs: string[] = [];
  const deleteFile = tool({
    name: 'delete_file',
    description: 'Deletes a file.',
    parameters: z.object({ path: z.string() }),
    needsApproval: true,
    execute: async ({ path }) => {
      runs.push(path);
      return `deleted ${path}`;
    },
  });
  return { deleteFile, runs };
}

function approvalAgent() {
  const { deleteFile, runs } = guardedTool();
  const model = new ScriptedModel([
    [functionCall('delete_file', { path: '/tmp/x' }, { callId: 'call_del' })],
    [assistantMessage('Done with /tmp/x.')],
  ]);
  return { agent: new Agent({ name: 'Janitor', model, tools: [deleteFile] }), model, runs };
}

/** Counts of each item in the history, so that a duplicate stands out. */
function duplicates(items: readonly AgentInputItem[]): string[] {
  const seen = shape(items);
  return seen.filter((line, index) => seen.indexOf(line) !== index);
}

describePostgres('conformance: tool approvals', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  for (const [decision, stream] of [
    ['approve', false],
    ['approve', true],
    ['reject', false],
  ] as const) {
    it(`resumes an ${decision === 'approve' ? 'approved' : 'rejected'} call from its serialised state on a new session object (${stream ? 'streamed' : 'not streamed'})`, async () => {
      const { memory } = await playBoth(database.db, async (backend: Backend) => {
        const { agent, model, runs } = approvalAgent();
        const first = await runToEnd(agent, 'Clean up /tmp/x.', { session: backend.session() }, stream);
        const interrupted = await backend.session().getItems();
        const serialized = first.state!.toString();

        // The next request: rebuilt from the string, decided, resumed.
        const state = await RunState.fromString(agent, serialized);
        const [pending] = state.getInterruptions();
        if (decision === 'approve') state.approve(pending!);
        else state.reject(pending!);
        const resumed = await runToEnd(agent, state, { session: backend.session() }, stream);
        return observe(backend, [model], {
          reports: [first.report, resumed.report],
          interrupted,
          runs,
        });
      });
      expect(memory.reports).toMatchObject([{ interruptions: 1 }, { interruptions: 0, finalOutput: 'Done with /tmp/x.' }]);
      expect(shape(memory.interrupted as AgentInputItem[])).toEqual([
        'user: Clean up /tmp/x.',
        'function_call delete_file#call_del',
      ]);
      expect(memory.runs).toEqual(decision === 'approve' ? ['/tmp/x'] : []);
      expect(shape(memory.stored)).toEqual([
        'user: Clean up /tmp/x.',
        'function_call delete_file#call_del',
        'function_call_result delete_file#call_del',
        'assistant: Done with /tmp/x.',
      ]);
      expect(duplicates(memory.stored)).toEqual([]);
      if (decision === 'reject') {
        expect(memory.stored[2]).toMatchObject({ output: { text: expect.stringMatching(/not approved|reject/i) } });
      }
    });
  }

  it('retries a resume whose write committed but whose caller saw an error, without running the tool twice', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const { agent, model, runs } = approvalAgent();
      const first = await runToEnd(agent, 'Clean up /tmp/x.', { session: backend.session() });
      const state = await RunState.fromString(agent, first.state!.toString());
      state.approve(state.getInterruptions()[0]!);
      // The resume stores the tool's result, then loses the reply: the caller sees an error.
      const log: TransactionLog = { calls: [], failuresLeft: 1 };
      const failed = await runToEnd(agent, state, { session: lossyReplies(backend.session(), 'addItems', log) });
      const afterFailure = await backend.session().getItems();
      // Retried with the same live state, which knows the call already ran. The runner reads the
      // history back and sees the result is already stored.
      const retried = await runToEnd(agent, state, { session: backend.session() });
      return observe(backend, [model], { reports: [failed.report, retried.report], afterFailure, runs });
    });
    expect(memory.reports).toMatchObject([{ error: 'Error' }, { finalOutput: 'Done with /tmp/x.' }]);
    expect(shape(memory.afterFailure as AgentInputItem[])).toEqual([
      'user: Clean up /tmp/x.',
      'function_call delete_file#call_del',
      'function_call_result delete_file#call_del',
    ]);
    expect(memory.runs).toEqual(['/tmp/x']);
    expect(duplicates(memory.stored)).toEqual([]);
    expect(memory.stored).toHaveLength(4);
  });

  it('behaves like MemorySession when the retry starts again from the original string (the SDK runs the tool twice)', async () => {
    // Not a PostgresSession property but the SDK's: a state rebuilt from the string sent before
    // the failed resume does not know the tool ran, so it runs it again and stores a second
    // result. Both sessions store the same thing; apps should keep the live state, or
    // re-serialise it after the failure, to retry.
    const { memory } = await playBoth(database.db, async (backend) => {
      const { agent, model, runs } = approvalAgent();
      const first = await runToEnd(agent, 'Clean up /tmp/x.', { session: backend.session() });
      const serialized = first.state!.toString();
      const attempt = async (session = backend.session()) => {
        const state = await RunState.fromString(agent, serialized);
        state.approve(state.getInterruptions()[0]!);
        return (await runToEnd(agent, state, { session })).report;
      };
      const log: TransactionLog = { calls: [], failuresLeft: 1 };
      const failed = await attempt(lossyReplies(backend.session(), 'addItems', log));
      const retried = await attempt();
      return observe(backend, [model], { reports: [failed, retried], runs });
    });
    expect(memory.runs).toEqual(['/tmp/x', '/tmp/x']);
    expect(duplicates(memory.stored)).toEqual(['function_call_result delete_file#call_del']);
  });
});
