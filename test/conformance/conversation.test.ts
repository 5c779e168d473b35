import { Agent, MaxTurnsExceededError, run, tool, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelError } from '@openai/agents/testing';
import { z } from 'zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { echoTool, observe, playBoth, runToEnd, shape } from './harness.js';

/**
 * Ordinary runs, streamed and not, and the ways they end early: each scenario played against
 * MemorySession and PostgresSession must store the same items and send the model the same input.
 */


describePostgres('conformance: conversations', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('remembers a multi-turn conversation', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([
        [assistantMessage('Hello, Ada.')],
        [assistantMessage('You are Ada.')],
        [assistantMessage('Goodbye, Ada.')],
      ]);
      const agent = new Agent({ name: 'Memo', instructions: 'Remember things.', model });
      const outputs = [];
      for (const text of ['I am Ada.', 'Who am I?', 'Bye.']) {
        outputs.push((await run(agent, text, { session: backend.session() })).finalOutput);
      }
      return observe(backend, [model], { outputs });
    });
    expect(shape(memory.stored)).toEqual([
      'user: I am Ada.',
      'assistant: Hello, Ada.',
      'user: Who am I?',
      'assistant: You are Ada.',
      'user: Bye.',
      'assistant: Goodbye, Ada.',
    ]);
    expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual(shape(memory.stored.slice(0, 5)));
  });

  for (const stream of [false, true]) {
    it(`stores a tool call round trip and sends it back on the next turn (${stream ? 'streamed' : 'not streamed'})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const { echo, runs } = echoTool();
        const model = new ScriptedModel([
          [functionCall('echo', { value: 'ping' }, { callId: 'call_echo' })],
          [assistantMessage('The tool said echo:ping.')],
          [assistantMessage('You asked me to echo ping.')],
        ]);
        const agent = new Agent({ name: 'Echo', model, tools: [echo] });
        const first = await runToEnd(agent, 'Echo ping.', { session: backend.session() }, stream);
        const second = await runToEnd(agent, 'What did you echo?', { session: backend.session() }, stream);
        return observe(backend, [model], { reports: [first.report, second.report], runs });
      });
      expect(memory.runs).toEqual(['ping']);
      expect(shape(memory.stored)).toEqual([
        'user: Echo ping.',
        'function_call echo#call_echo',
        'function_call_result echo#call_echo',
        'assistant: The tool said echo:ping.',
        'user: What did you echo?',
        'assistant: You asked me to echo ping.',
      ]);
      expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual(shape(memory.stored.slice(0, 5)));
    });
  }

  it('stores a handoff, and a later run with the second agent sees all of it', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const specialistModel = new ScriptedModel([
        [assistantMessage('Dragons breathe fire.')],
        [assistantMessage('You asked about dragons.')],
      ]);
      const specialist = new Agent({
        name: 'Specialist',
        handoffDescription: 'Knows dragons.',
        model: specialistModel,
      });
      const triageModel = new ScriptedModel([
        [functionCall('transfer_to_Specialist', {}, { callId: 'call_handoff' })],
      ]);
      const triage = new Agent({ name: 'Triage', model: triageModel, handoffs: [specialist] });
      const first = await runToEnd(triage, 'Tell me about dragons.', { session: backend.session() });
      // The session does not know who answered last; the app continues with result.lastAgent.
      const second = await runToEnd(specialist, 'What did I ask?', { session: backend.session() });
      return observe(backend, [triageModel, specialistModel], { reports: [first.report, second.report] });
    });
    expect(memory.reports).toMatchObject([{ lastAgent: 'Specialist' }, { lastAgent: 'Specialist' }]);
    expect(shape(memory.stored)).toEqual([
      'user: Tell me about dragons.',
      'function_call transfer_to_Specialist#call_handoff',
      'function_call_result transfer_to_Specialist#call_handoff',
      'assistant: Dragons breathe fire.',
      'user: What did I ask?',
      'assistant: You asked about dragons.',
    ]);
    expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual(shape(memory.stored.slice(0, 5)));
  });

  it('stores a run streamed with toTextStream() once it completes', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([[assistantMessage('Streaming along nicely.')]]);
      const agent = new Agent({ name: 'Streamer', model });
      const result = await run(agent, 'Stream, please.', { session: backend.session(), stream: true });
      let text = '';
      for await (const delta of result.toTextStream()) text += delta;
      await result.completed;
      return observe(backend, [model], { text, finalOutput: result.finalOutput });
    });
    expect(memory.text).toBe('Streaming along nicely.');
    expect(shape(memory.stored)).toEqual(['user: Stream, please.', 'assistant: Streaming along nicely.']);
  });

  it('keeps only the input when the consumer breaks out of the stream early', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([
        [assistantMessage('A long answer nobody reads.')],
        [assistantMessage('A short one.')],
      ]);
      const agent = new Agent({ name: 'Streamer', model });
      const result = await run(agent, 'Tell me a story.', { session: backend.session(), stream: true });
      for await (const _delta of result.toTextStream()) break;
      await result.completed;
      const next = await runToEnd(agent, 'Shorter, please.', { session: backend.session() });
      return observe(backend, [model], { cancelled: result.cancelled, next: next.report });
    });
    expect(memory.cancelled).toBe(true);
    expect(shape(memory.stored)).toEqual([
      'user: Tell me a story.',
      'user: Shorter, please.',
      'assistant: A short one.',
    ]);
  });

  it('keeps only the input when the stream is aborted through its signal', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([[assistantMessage('Interrupted answer.')]]);
      const agent = new Agent({ name: 'Streamer', model });
      const controller = new AbortController();
      const result = await run(agent, 'Go.', {
        session: backend.session(),
        stream: true,
        signal: controller.signal,
      });
      for await (const _delta of result.toTextStream()) controller.abort();
      await result.completed;
      return observe(backend, [model], { cancelled: result.cancelled });
    });
    expect(memory.cancelled).toBe(true);
    expect(shape(memory.stored)).toEqual(['user: Go.']);
  });

  for (const stream of [false, true]) {
    const mode = stream ? 'streamed' : 'not streamed';

    it(`stores what MemorySession stores when the model fails on the first call (${mode})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const model = new ScriptedModel([modelError(new Error('provider down'))]);
        const agent = new Agent({ name: 'Fragile', model });
        const { report } = await runToEnd(agent, 'Hello?', { session: backend.session() }, stream);
        return observe(backend, [model], { report });
      });
      expect(memory.report).toMatchObject({ error: 'Error' });
      // Streamed runs keep the input that reached the model; non-streamed runs keep nothing.
      expect(shape(memory.stored)).toEqual(stream ? ['user: Hello?'] : []);
    });

    it(`stores what MemorySession stores when the model fails after a tool ran (${mode})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const { echo, runs } = echoTool();
        const model = new ScriptedModel([
          [functionCall('echo', { value: 'once' }, { callId: 'call_once' })],
          modelError(new Error('provider down')),
        ]);
        const agent = new Agent({ name: 'Fragile', model, tools: [echo] });
        const { report } = await runToEnd(agent, 'Echo once.', { session: backend.session() }, stream);
        return observe(backend, [model], { report, runs });
      });
      expect(memory.runs).toEqual(['once']);
      expect(memory.report).toMatchObject({ error: 'Error' });
      expect(shape(memory.stored)).toEqual(stream ? ['user: Echo once.'] : []);
    });

    it(`stores what MemorySession stores when the run exceeds maxTurns (${mode})`, async () => {
      const { memory } = await playBoth(database.db, async (backend) => {
        const { echo, runs } = echoTool();
        const model = new ScriptedModel([
          [functionCall('echo', { value: 'again' }, { callId: 'call_loop' })],
          [assistantMessage('never reached')],
        ]);
        const agent = new Agent({ name: 'Looper', model, tools: [echo] });
        const { report } = await runToEnd(
          agent,
          'Loop.',
          { session: backend.session(), maxTurns: 1 },
          stream,
        );
        return observe(backend, [model], { report, runs });
      });
      expect(memory.report).toMatchObject({ error: MaxTurnsExceededError.name });
      expect(shape(memory.stored)).toEqual(stream ? ['user: Loop.'] : []);
    });
  }

  it('lets sessionInputCallback trim what the model sees, while the session keeps everything', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([
        [assistantMessage('One.')],
        [assistantMessage('Two.')],
        [assistantMessage('Three.')],
      ]);
      const agent = new Agent({ name: 'Counter', model });
      // Whole turns only (a user message and the answer), so no call result loses its call.
      const lastTurn = (history: AgentInputItem[], newItems: AgentInputItem[]) => [
        ...history.slice(-2),
        ...newItems,
      ];
      for (const text of ['First.', 'Second.', 'Third.']) {
        await run(agent, text, { session: backend.session(), sessionInputCallback: lastTurn });
      }
      return observe(backend, [model]);
    });
    expect(shape(memory.inputs[2] as AgentInputItem[])).toEqual([
      'user: Second.',
      'assistant: Two.',
      'user: Third.',
    ]);
    expect(memory.stored).toHaveLength(6);
  });

  it('continues correctly after popItem and clearSession between runs', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const model = new ScriptedModel([
        [assistantMessage('A1')],
        [assistantMessage('A2')],
        [assistantMessage('A3')],
        [assistantMessage('A4')],
      ]);
      const agent = new Agent({ name: 'Editor', model });
      await run(agent, 'Q1', { session: backend.session() });
      await run(agent, 'Q2', { session: backend.session() });
      // "Regenerate": drop the last answer and its question, then ask again.
      const popped = [await backend.session().popItem(), await backend.session().popItem()];
      await run(agent, 'Q2 again', { session: backend.session() });
      const beforeClear = await backend.session().getItems();
      await backend.session().clearSession();
      await run(agent, 'Q3', { session: backend.session() });
      return observe(backend, [model], { popped, beforeClear });
    });
    expect(shape(memory.popped as AgentInputItem[])).toEqual(['assistant: A2', 'user: Q2']);
    expect(shape(memory.beforeClear as AgentInputItem[])).toEqual([
      'user: Q1',
      'assistant: A1',
      'user: Q2 again',
      'assistant: A3',
    ]);
    expect(shape(memory.inputs[3] as AgentInputItem[])).toEqual(['user: Q3']);
    expect(shape(memory.stored)).toEqual(['user: Q3', 'assistant: A4']);
  });

  it('round-trips U+0000, lone surrogates, emoji, 200 KB of text and nested providerData', async () => {
    const bigText = 'lorem ipsum 😀 '.repeat(14_000);
    const providerData = {
      encrypted: 'gAAAA\u0000…',
      nested: { deep: [1, { two: [null, true, 'x\ud800y'] }], emoji: '🧪👩‍🔬' },
    };
    const { memory } = await playBoth(database.db, async (backend) => {
      const bulky = tool({
        name: 'bulky',
        description: 'Returns a lot of text.',
        parameters: z.object({}),
        execute: async () => bigText,
      });
      const model = new ScriptedModel([
        [functionCall('bulky', {}, { callId: 'call_bulky', providerData })],
        [assistantMessage('Read it all: \u0000 and 𝄞.', { providerData })],
        [assistantMessage('Still here.')],
      ]);
      const agent = new Agent({ name: 'Bulky', model, tools: [bulky] });
      const input: AgentInputItem[] = [
        { type: 'message', role: 'user', content: 'NUL \u0000, lone \udfff, emoji 👍🏽', providerData },
      ];
      await run(agent, input, { session: backend.session() });
      await run(agent, 'And again?', { session: backend.session() });
      return observe(backend, [model]);
    });
    const text = JSON.stringify(memory.stored);
    expect(text.length).toBeGreaterThan(200_000);
    expect(memory.stored[0]).toMatchObject({ content: 'NUL \u0000, lone \udfff, emoji 👍🏽', providerData });
    expect(memory.stored[1]).toMatchObject({ type: 'function_call', providerData });
    expect(memory.stored[2]).toMatchObject({ output: { type: 'text', text: bigText } });
    expect(shape(memory.inputs[2] as AgentInputItem[]).at(-2)).toBe('assistant: Read it all: \u0000 and 𝄞.');
  });

  it('returns the same getItems(limit) for undefined, 0, -1, 1, the length and more', async () => {
    const limits = [undefined, 0, -1, 1, 2, 4, 5, 1000];
    const { memory } = await playBoth(database.db, async (backend) => {
      const { echo } = echoTool();
      const model = new ScriptedModel([
        [functionCall('echo', { value: 'x' }, { callId: 'call_x' })],
        [assistantMessage('Done.')],
      ]);
      await run(new Agent({ name: 'Lim', model, tools: [echo] }), 'Go.', { session: backend.session() });
      const byLimit: Record<string, AgentInputItem[]> = {};
      for (const limit of limits) byLimit[String(limit)] = await backend.session().getItems(limit);
      return observe(backend, [model], { byLimit });
    });
    const byLimit = memory.byLimit as Record<string, AgentInputItem[]>;
    expect(Object.fromEntries(limits.map((limit) => [String(limit), byLimit[String(limit)]!.length]))).toEqual({
      undefined: 4,
      '0': 0,
      '-1': 0,
      '1': 1,
      '2': 2,
      '4': 4,
      '5': 4,
      '1000': 4,
    });
    // The most recent items, oldest first.
    expect(shape(byLimit['2']!)).toEqual(['function_call_result echo#call_x', 'assistant: Done.']);
  });
});
