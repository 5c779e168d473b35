import { Agent, handoff, tool, type AgentInputItem } from '@openai/agents';
import { z } from 'zod';
import { ScriptedModel, assistantMessage, functionCall, modelError } from '@openai/agents/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import {
  echoTool,
  memoryRunBackend,
  observe,
  routerRunBackend,
  shape,
  type Outcome,
  type RunBackend,
} from './harness.js';

/**
 * The router's own session (TurnSession, driven by the runner inside a router run) against the
 * SDK's MemorySession: every run that succeeds must send the model the same input and leave the
 * same history. A run that fails leaves the chat exactly as it was, where MemorySession keeps
 * what the runner had written (the router's deliberate rule: a failed run never changes the chat).
 */

async function playAgainstMemory(
  db: TestDatabase['db'],
  scenario: (backend: RunBackend) => Promise<Outcome>,
): Promise<{ memory: Outcome; router: Outcome }> {
  const memory = await scenario(memoryRunBackend());
  const router = await scenario(routerRunBackend(db));
  expect(router).toEqual(memory);
  return { memory, router };
}

describePostgres('conformance: the router’s turn session', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('remembers a multi-turn conversation', async () => {
    const { memory } = await playAgainstMemory(database.db, async (backend) => {
      const model = new ScriptedModel([[assistantMessage('Hello, Ada.')], [assistantMessage('You are Ada.')]]);
      const agent = new Agent({ name: 'Memo', model });
      const outputs = [];
      for (const text of ['I am Ada.', 'Who am I?']) outputs.push((await backend.run(agent, text)).finalOutput);
      return observe(backend, [model], { outputs });
    });
    expect(shape(memory.stored)).toEqual(['user: I am Ada.', 'assistant: Hello, Ada.', 'user: Who am I?', 'assistant: You are Ada.']);
  });

  for (const stream of [false, true]) {
    it(`stores parallel tool calls and sends them back whole (${stream ? 'streamed' : 'not streamed'})`, async () => {
      const { memory } = await playAgainstMemory(database.db, async (backend) => {
        const { echo, runs } = echoTool();
        const model = new ScriptedModel([
          [functionCall('echo', { value: 'a' }, { callId: 'call_a' }), functionCall('echo', { value: 'b' }, { callId: 'call_b' })],
          [assistantMessage('Both echoed.')],
          [assistantMessage('You asked for two echoes.')],
        ]);
        const agent = new Agent({ name: 'Echo', model, tools: [echo] });
        const first = await backend.run(agent, 'Echo a and b.', {}, stream);
        const second = await backend.run(agent, 'What did I ask?', {}, stream);
        return observe(backend, [model], { outputs: [first.finalOutput, second.finalOutput], runs });
      });
      expect(memory.runs).toEqual(['a', 'b']);
      expect(shape(memory.stored)).toEqual([
        'user: Echo a and b.',
        'function_call echo#call_a',
        'function_call echo#call_b',
        'function_call_result echo#call_a',
        'function_call_result echo#call_b',
        'assistant: Both echoed.',
        'user: What did I ask?',
        'assistant: You asked for two echoes.',
      ]);
    });
  }

  it('stores a handoff, and the agent handed to answers the next run with everything', async () => {
    const { memory } = await playAgainstMemory(database.db, async (backend) => {
      const specialistModel = new ScriptedModel([[assistantMessage('Dragons breathe fire.')]]);
      const specialist = new Agent({ name: 'Specialist', model: specialistModel });
      const triageModel = new ScriptedModel([[functionCall('transfer_to_Specialist', {}, { callId: 'call_handoff' })]]);
      const triage = new Agent({ name: 'Triage', model: triageModel, handoffs: [handoff(specialist)] });
      const answer = await backend.run(triage, 'Tell me about dragons.');
      return observe(backend, [triageModel, specialistModel], { lastAgent: answer.lastAgent });
    });
    expect(memory.lastAgent).toBe('Specialist');
    expect(shape(memory.stored)).toEqual([
      'user: Tell me about dragons.',
      'function_call transfer_to_Specialist#call_handoff',
      'function_call_result transfer_to_Specialist#call_handoff',
      'assistant: Dragons breathe fire.',
    ]);
  });

  for (const stream of [false, true]) {
    it(`replaces the history with a compacted one when the input starts with a compaction item (${stream ? 'streamed' : 'not streamed'})`, async () => {
      const { memory } = await playAgainstMemory(database.db, async (backend) => {
        const model = new ScriptedModel([[assistantMessage('First.')], [assistantMessage('After compaction.')]]);
        const agent = new Agent({ name: 'Compactor', model });
        await backend.run(agent, 'Hello.', {}, stream);
        const compacted: AgentInputItem[] = [
          { type: 'compaction', encrypted_content: 'summary of the chat so far' } as AgentInputItem,
          { role: 'user', content: 'Go on.' },
        ];
        const answer = await backend.run(agent, compacted, {}, stream);
        return observe(backend, [model], { output: answer.finalOutput });
      });
      expect(memory.output).toBe('After compaction.');
      expect(shape(memory.stored)).toEqual(['compaction #', 'user: Go on.', 'assistant: After compaction.']);
    });
  }

  it('lets sessionInputCallback trim what the model sees, while the history keeps everything', async () => {
    const { memory } = await playAgainstMemory(database.db, async (backend) => {
      const model = new ScriptedModel([[assistantMessage('One.')], [assistantMessage('Two.')], [assistantMessage('Three.')]]);
      const agent = new Agent({ name: 'Counter', model });
      const lastTurn = (history: AgentInputItem[], newItems: AgentInputItem[]) => [...history.slice(-2), ...newItems];
      for (const text of ['First.', 'Second.', 'Third.']) await backend.run(agent, text, { sessionInputCallback: lastTurn });
      return observe(backend, [model]);
    });
    expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual(['user: Second.', 'assistant: Two.', 'user: Third.']);
    expect(memory.stored).toHaveLength(6);
  });

  it('continues after the app pops and clears between runs', async () => {
    const { memory } = await playAgainstMemory(database.db, async (backend) => {
      const model = new ScriptedModel([[assistantMessage('A1')], [assistantMessage('A2')], [assistantMessage('A3')]]);
      const agent = new Agent({ name: 'Editor', model });
      await backend.run(agent, 'Q1');
      await backend.run(agent, 'Q2');
      const popped = [await backend.session().popItem(), await backend.session().popItem()];
      await backend.run(agent, 'Q2 again');
      return observe(backend, [model], { popped });
    });
    expect(shape(memory.stored)).toEqual(['user: Q1', 'assistant: A1', 'user: Q2 again', 'assistant: A3']);
  });

  for (const stream of [false, true]) {
    const mode = stream ? 'streamed' : 'not streamed';
    for (const [name, steps] of [
      ['the model fails on the first call', () => [modelError(new Error('provider down'))]],
      ['the model fails after a tool ran', () => [functionCall('echo', { value: 'x' }, { callId: 'call_x' }), modelError(new Error('down'))]],
    ] as const) {
      it(`leaves the chat as it was when ${name} (${mode}), where MemorySession may keep part of the turn`, async () => {
        const backend = routerRunBackend(database.db);
        const { echo } = echoTool();
        const seed = new ScriptedModel([[assistantMessage('Seeded.')]]);
        await backend.run(new Agent({ name: 'Seed', model: seed }), 'Seed.', {}, stream);
        const before = await backend.session().getItems();
        const script = steps();
        const model = new ScriptedModel(script.length === 1 ? [script[0] as never] : [[script[0] as never], script[1] as never]);
        const report = await backend.run(new Agent({ name: 'Fragile', model, tools: [echo] }), 'Hello?', {}, stream);
        expect(report).toMatchObject({ error: 'Error' });
        expect(await backend.session().getItems()).toEqual(before);
      });
    }
  }

  /** A tool that needs approval, and a model that calls it and then reports what it returned. */
  function guarded() {
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
    const model = new ScriptedModel([
      [functionCall('delete_file', { path: '/tmp/x' }, { callId: 'call_del' })],
      [assistantMessage('Handled /tmp/x.')],
    ]);
    return { agent: new Agent({ name: 'Janitor', model, tools: [deleteFile] }), model, runs };
  }

  for (const [decision, stream] of [
    ['approve', false],
    ['approve', true],
    ['reject', false],
    ['reject', true],
  ] as const) {
    it(`stores after ${decision === 'approve' ? 'an approval' : 'a rejection'} what MemorySession stores (${stream ? 'streamed' : 'not streamed'})`, async () => {
      const { memory } = await playAgainstMemory(database.db, async (backend) => {
        const { agent, model, runs } = guarded();
        const first = await backend.run(agent, 'Clean up /tmp/x.', {}, stream);
        const interrupted = await backend.session().getItems();
        const resumed = await backend.decide(
          agent,
          [{ call_id: 'call_del', approved: decision === 'approve', ...(decision === 'reject' ? { message: 'Not that one.' } : {}) }],
          stream,
        );
        return observe(backend, [model], { interruptions: first.interruptions, interrupted, output: resumed.finalOutput, runs });
      });
      expect(memory.interruptions).toBe(1);
      expect(shape(memory.interrupted as AgentInputItem[])).toEqual(['user: Clean up /tmp/x.', 'function_call delete_file#call_del']);
      expect(memory.runs).toEqual(decision === 'approve' ? ['/tmp/x'] : []);
      expect(shape(memory.stored)).toEqual([
        'user: Clean up /tmp/x.',
        'function_call delete_file#call_del',
        'function_call_result delete_file#call_del',
        'assistant: Handled /tmp/x.',
      ]);
      if (decision === 'reject') expect(memory.stored[2]).toMatchObject({ output: { text: 'Not that one.' } });
    });
  }

  it('stores what MemorySession stores when the tool that needs approval belongs to an agent handed off to', async () => {
    const { memory } = await playAgainstMemory(database.db, async (backend) => {
      const { agent: janitor, model, runs } = guarded();
      const triageModel = new ScriptedModel([[functionCall('transfer_to_Janitor', {}, { callId: 'call_handoff' })]]);
      const triage = new Agent({ name: 'Triage', model: triageModel, handoffs: [handoff(janitor)] });
      const first = await backend.run(triage, 'Clean up /tmp/x.');
      const resumed = await backend.decide(triage, [{ call_id: 'call_del', approved: true }]);
      return observe(backend, [triageModel, model], { agents: [first.lastAgent, resumed.lastAgent], runs });
    });
    expect(memory.agents).toEqual(['Janitor', 'Janitor']);
    expect(memory.runs).toEqual(['/tmp/x']);
    expect(shape(memory.stored)).toEqual([
      'user: Clean up /tmp/x.',
      'function_call transfer_to_Janitor#call_handoff',
      'function_call_result transfer_to_Janitor#call_handoff',
      'function_call delete_file#call_del',
      'function_call_result delete_file#call_del',
      'assistant: Handled /tmp/x.',
    ]);
  });
});
