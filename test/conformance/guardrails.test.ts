import {
  Agent,
  InputGuardrailTripwireTriggered,
  OutputGuardrailTripwireTriggered,
  type AgentInputItem,
  type InputGuardrail,
  type OutputGuardrail,
} from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import {
  basicOnly,
  echoTool,
  lossyReplies,
  memoryBackend,
  observe,
  playBoth,
  postgresBackend,
  runToEnd,
  shape,
  type Backend,
  type Outcome,
  type TransactionLog,
} from './harness.js';

/**
 * Guardrails are where the runner treats sessions differently by ability: when an output
 * guardrail trips after a tool ran, a session with `applyHistoryTransaction` keeps the tool call
 * and its result (written as one `append_items` transaction), a basic session only the input.
 */

const blockSecrets = (): OutputGuardrail & { strict: boolean } => {
  const guardrail = {
    name: 'no_secrets',
    strict: true,
    execute: async ({ agentOutput }: { agentOutput: unknown }) => ({
      tripwireTriggered: guardrail.strict && String(agentOutput).includes('SECRET'),
      outputInfo: {},
    }),
  };
  return guardrail;
};


/**
 * An output guardrail trips on an answer given after a tool ran; then the user asks again. The
 * follow-up's model input shows what the tripped turn left in the history.
 */
function outputGuardrailAfterTool(stream: boolean) {
  return async (backend: Backend): Promise<Outcome> => {
    const { echo, runs } = echoTool();
    const model = new ScriptedModel([
      [functionCall('echo', { value: 'a' }, { callId: 'call_a' })],
      [assistantMessage('The SECRET is out.')],
      [assistantMessage('Nothing to see.')],
    ]);
    const agent = new Agent({ name: 'Guarded', model, tools: [echo], outputGuardrails: [blockSecrets()] });
    const tripped = await runToEnd(agent, 'Tell me.', { session: backend.session() }, stream);
    const afterTrip = await backend.session().getItems();
    const next = await runToEnd(agent, 'Anything else?', { session: backend.session() }, stream);
    return observe(backend, [model], { reports: [tripped.report, next.report], afterTrip, runs });
  };
}

describePostgres('conformance: guardrails', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  for (const stream of [false, true]) {
    const mode = stream ? 'streamed' : 'not streamed';

    it(`stores nothing when an input guardrail trips (${mode})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const model = new ScriptedModel([[assistantMessage('unused')]]);
        // Not in parallel with the model call, so whether the model was called does not depend
        // on timing.
        const refuseAll: InputGuardrail = {
          name: 'refuse_all',
          runInParallel: false,
          execute: async () => ({ tripwireTriggered: true, outputInfo: {} }),
        };
        const agent = new Agent({ name: 'Gate', model, inputGuardrails: [refuseAll] });
        const { report } = await runToEnd(agent, 'Let me in.', { session: backend.session() }, stream);
        return observe(backend, [model], { report });
      });
      expect(memory.report).toMatchObject({ error: InputGuardrailTripwireTriggered.name });
      expect(memory.stored).toEqual([]);
      expect(memory.inputs).toEqual([]);
    });

    it(`keeps only the input when an output guardrail trips without a tool (${mode})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const model = new ScriptedModel([[assistantMessage('A SECRET.')]]);
        const agent = new Agent({ name: 'Guarded', model, outputGuardrails: [blockSecrets()] });
        const { report } = await runToEnd(agent, 'Tell me.', { session: backend.session() }, stream);
        return observe(backend, [model], { report });
      });
      expect(memory.report).toMatchObject({ error: OutputGuardrailTripwireTriggered.name });
      expect(shape(memory.stored)).toEqual(['user: Tell me.']);
    });

    it(`keeps the tool call and result when an output guardrail trips after a tool ran (${mode})`, async () => {
      const { memory } = await playBoth(database.db, outputGuardrailAfterTool(stream));
      expect(memory.reports).toMatchObject([{ error: OutputGuardrailTripwireTriggered.name }, {}]);
      expect(memory.runs).toEqual(['a']);
      expect(shape(memory.afterTrip as AgentInputItem[])).toEqual([
        'user: Tell me.',
        'function_call echo#call_a',
        'function_call_result echo#call_a',
      ]);
      // The blocked answer never reaches the history, but the tool's work does.
      expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual([
        'user: Tell me.',
        'function_call echo#call_a',
        'function_call_result echo#call_a',
        'user: Anything else?',
      ]);
    });
  }

  it('would notice a missing ability: without applyHistoryTransaction the outcome differs', async () => {
    // The same scenario, against PostgresSession reduced to the five basic methods. If
    // PostgresSession lost applyHistoryTransaction, the test above would fail in this way.
    const scenario = outputGuardrailAfterTool(false);
    const memory = await scenario(memoryBackend());
    const basic = await scenario(postgresBackend(database.db, basicOnly));
    expect(basic).not.toEqual(memory);
    expect(shape(basic.afterTrip as AgentInputItem[])).toEqual(['user: Tell me.']);
    expect(shape(memory.afterTrip as AgentInputItem[])).toHaveLength(3);
  });

  it('applies a retried transaction once when the first attempt committed but its caller saw an error', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const log: TransactionLog = { calls: [], failuresLeft: 1 };
      const { echo, runs } = echoTool();
      const guardrail = blockSecrets();
      const model = new ScriptedModel([
        [functionCall('echo', { value: 'a' }, { callId: 'call_a' })],
        [assistantMessage('The SECRET is out.')],
      ]);
      const agent = new Agent({ name: 'Guarded', model, tools: [echo], outputGuardrails: [guardrail] });
      // The blocked turn's append_items commits, then the reply is lost: the runner keeps the
      // transaction pending on the state (and reports the failure as the tripwire's cause).
      const tripped = await runToEnd(agent, 'Tell me.', {
        session: lossyReplies(backend.session(), 'applyHistoryTransaction', log),
      });
      const cause = ((tripped.error as Error).cause as Error | undefined)?.message;
      const afterTrip = await backend.session().getItems();
      // The app relaxes the guardrail and resumes the same state, on a new session object (the
      // state cannot be serialised while it holds a pending transaction). The runner re-sends
      // the pending transaction with the same operation id, then replaces the suffix.
      guardrail.strict = false;
      const resumed = await runToEnd(agent, (tripped.error as OutputGuardrailTripwireTriggered<any>).state!, {
        session: lossyReplies(backend.session(), 'applyHistoryTransaction', log),
      });
      const calls = log.calls.map(({ operationId, transaction }) => ({
        // The ids hold a random per-run UUID; what matters is which calls share one.
        sameIdAsFirst: operationId === log.calls[0]!.operationId,
        type: transaction.type,
      }));
      return observe(backend, [model], {
        reports: [tripped.report, resumed.report],
        cause,
        afterTrip,
        calls,
        runs,
      });
    });
    expect(memory.cause).toBe('connection reset after commit');
    expect(memory.calls).toEqual([
      { sameIdAsFirst: true, type: 'append_items' },
      { sameIdAsFirst: true, type: 'append_items' },
      { sameIdAsFirst: false, type: 'replace_suffix' },
    ]);
    expect(memory.runs).toEqual(['a']);
    expect(shape(memory.afterTrip as AgentInputItem[])).toHaveLength(3);
    // Applied once: no duplicated input, call or result.
    expect(shape(memory.stored)).toEqual([
      'user: Tell me.',
      'function_call echo#call_a',
      'function_call_result echo#call_a',
      'assistant: The SECRET is out.',
    ]);
  });
});
