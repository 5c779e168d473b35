import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent, run, tool, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder } from '@openai/agents/testing';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostgresSession } from '../../src/session/postgres-session.js';
import {
  createTestDatabase,
  describeEachEngine,
  describePostgres,
  type TestDatabase,
} from '../helpers/database.js';

/** The text of each message item the model was sent, in order ("role: text"). */
function transcript(items: readonly AgentInputItem[]): string[] {
  return items.flatMap((item) => {
    if (!('role' in item)) return [`${item.type}`];
    const content = item.content;
    const text =
      typeof content === 'string'
        ? content
        : content.map((part) => ('text' in part ? part.text : `[${part.type}]`)).join('');
    return [`${item.role}: ${text}`];
  });
}

describeEachEngine('PostgresSession with the SDK run()', (engine) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(() => database.destroy());

  // A new session object per run, as a web app would create per request.
  const session = (sessionId: string) => new PostgresSession({ db: database.db, sessionId });

  it('remembers a multi-turn conversation', async () => {
    const model = new ScriptedModel([
      [assistantMessage('Nice to meet you, Ada.')],
      modelResponder(({ request }) => {
        const said = transcript(request.input as AgentInputItem[]);
        const name = said.find((line) => line.startsWith('user: My name is'))?.slice(17);
        return [assistantMessage(`Your name is ${name}`)];
      }),
    ]);
    const agent = new Agent({ name: 'Memo', instructions: 'Remember things.', model });
    await run(agent, 'My name is Ada.', { session: session('multi-turn') });
    const second = await run(agent, 'What is my name?', { session: session('multi-turn') });
    expect(second.finalOutput).toBe('Your name is Ada.');
    expect(transcript(model.calls[1]!.request.input as AgentInputItem[])).toEqual([
      'user: My name is Ada.',
      'assistant: Nice to meet you, Ada.',
      'user: What is my name?',
    ]);
    expect(transcript(await session('multi-turn').getItems())).toEqual([
      'user: My name is Ada.',
      'assistant: Nice to meet you, Ada.',
      'user: What is my name?',
      'assistant: Your name is Ada.',
    ]);
  });

  it('stores a tool call round trip, and sends it back to the model on the next turn', async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Current weather in a city.',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `sunny in ${city}`;
      },
    });
    const model = new ScriptedModel([
      [functionCall('get_weather', { city: 'Lyon' }, { callId: 'call_w1' })],
      [assistantMessage('It is sunny in Lyon.')],
      [assistantMessage('You asked about Lyon.')],
    ]);
    const agent = new Agent({ name: 'Weather', model, tools: [getWeather] });
    const first = await run(agent, 'Weather in Lyon?', { session: session('tools') });
    expect(first.finalOutput).toBe('It is sunny in Lyon.');
    expect(calls).toEqual(['Lyon']);
    const stored = await session('tools').getItems();
    expect(stored.map((item) => item.type ?? 'message')).toEqual([
      'message',
      'function_call',
      'function_call_result',
      'message',
    ]);
    expect(stored[2]).toMatchObject({ type: 'function_call_result', callId: 'call_w1' });
    await run(agent, 'Which city did I ask about?', { session: session('tools') });
    const secondInput = model.calls[2]!.request.input as AgentInputItem[];
    expect(secondInput.slice(0, 4)).toEqual(stored);
  });

  it('stores a handoff and lets the second agent answer with the whole history', async () => {
    const specialistModel = new ScriptedModel([
      modelResponder(({ request }) => [
        assistantMessage(`Specialist saw: ${transcript(request.input as AgentInputItem[]).join(' | ')}`),
      ]),
    ]);
    const specialist = new Agent({
      name: 'Specialist',
      handoffDescription: 'Knows dragons.',
      model: specialistModel,
    });
    const triage = new Agent({
      name: 'Triage',
      model: new ScriptedModel([[functionCall('transfer_to_Specialist', {}, { callId: 'call_h1' })]]),
      handoffs: [specialist],
    });
    const result = await run(triage, 'Tell me about dragons.', { session: session('handoff') });
    expect(result.lastAgent?.name).toBe('Specialist');
    expect(result.finalOutput).toBe('Specialist saw: user: Tell me about dragons. | function_call | function_call_result');
    const stored = await session('handoff').getItems();
    expect(stored[1]).toMatchObject({ type: 'function_call', name: 'transfer_to_Specialist' });
    expect(stored[2]).toMatchObject({ type: 'function_call_result', callId: 'call_h1' });
    expect(transcript(stored).at(-1)).toBe(`assistant: ${result.finalOutput}`);
  });

  it('stores a streamed run once it completes', async () => {
    const model = new ScriptedModel([[assistantMessage('Streaming along nicely.')]]);
    const agent = new Agent({ name: 'Streamer', model });
    const result = await run(agent, 'Stream please.', { session: session('streamed'), stream: true });
    let text = '';
    for await (const delta of result.toTextStream()) text += delta;
    await result.completed;
    expect(text).toBe('Streaming along nicely.');
    expect(transcript(await session('streamed').getItems())).toEqual([
      'user: Stream please.',
      'assistant: Streaming along nicely.',
    ]);
  });

  it('lets two different agents take turns on one session, each seeing the other', async () => {
    const bardModel = new ScriptedModel([
      [assistantMessage('A tale of the silver fox.')],
      modelResponder(({ request }) => [
        assistantMessage(`Bard recalls ${transcript(request.input as AgentInputItem[]).length} lines`),
      ]),
    ]);
    const sageModel = new ScriptedModel([
      modelResponder(({ request }) => {
        const said = transcript(request.input as AgentInputItem[]);
        return [assistantMessage(`Sage heard the bard say: ${said[1]}`)];
      }),
    ]);
    const bard = new Agent({ name: 'Bard', model: bardModel });
    const sage = new Agent({ name: 'Sage', model: sageModel });
    const bardSession = () =>
      new PostgresSession({ db: database.db, sessionId: 'two-agents', agentName: 'Bard' });
    const sageSession = () =>
      new PostgresSession({ db: database.db, sessionId: 'two-agents', agentName: 'Sage' });
    await run(bard, 'Tell a tale.', { session: bardSession() });
    const sage1 = await run(sage, 'What did the bard say?', { session: sageSession() });
    expect(sage1.finalOutput).toBe('Sage heard the bard say: assistant: A tale of the silver fox.');
    const bard2 = await run(bard, 'And now?', { session: bardSession() });
    expect(bard2.finalOutput).toBe('Bard recalls 5 lines');
    const rows = await database.db
      .selectFrom('agent_items')
      .select(['position', 'agent_name'])
      .where('session_id', '=', 'two-agents')
      .orderBy('position')
      .execute();
    expect(rows.map((row: { agent_name: string }) => row.agent_name)).toEqual([
      'Bard', 'Bard', 'Sage', 'Sage', 'Bard', 'Bard',
    ]);
  });
});

describePostgres('PostgresSession history across processes', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  it('a second process sees the first process history, and continues it', async () => {
    // The first turn runs in a separate Node process that exits before the second turn.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/first-turn-process.ts'],
      {
        env: { ...process.env, DATABASE_URL: database.url! },
        timeout: 60_000,
      },
    );
    expect(stdout.trim()).toBe('first turn stored');

    const fresh = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool(database.pool) }) });
    try {
      const model = new ScriptedModel([
        modelResponder(({ request }) => [
          assistantMessage(`I remember: ${transcript(request.input as AgentInputItem[]).join(' | ')}`),
        ]),
      ]);
      const agent = new Agent({ name: 'Memo', model });
      const result = await run(agent, 'What did I say?', {
        session: new PostgresSession({ db: fresh, sessionId: 'cross-process' }),
      });
      expect(result.finalOutput).toBe(
        'I remember: user: The password is swordfish. | assistant: Noted. | user: What did I say?',
      );
    } finally {
      await fresh.destroy();
    }
  });
});
