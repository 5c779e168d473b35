// The remember and recall tools, and the memories.recall option, in runs served by the agent
// router over HTTP, with the SDK's ScriptedModel standing in for the model.
import { Agent, run, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder, type RecordedModelCall } from '@openai/agents/testing';
import express from 'express';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { ConfigurationError } from '../../src/errors.js';
import { recallTool, rememberTool } from '../../src/memories/memory-tools.js';
import { PostgresMemoryStore } from '../../src/memories/postgres-memory-store.js';
import { RECALLED_MEMORIES_HEADING } from '../../src/memories/recall-into-instructions.js';
import { createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const getUserId = (req: express.Request) => req.header('x-user-id');
const as = (user: string) => ({ headers: { 'x-user-id': user } });

/** The text of the newest tool output the model was sent. */
function lastToolOutput(call: RecordedModelCall): string {
  const result = [...(call.request.input as AgentInputItem[])].reverse().find((item) => item.type === 'function_call_result');
  if (!result || result.type !== 'function_call_result') return '(no tool output)';
  const output = result.output as unknown;
  if (typeof output === 'string') return output;
  return (output as { text?: string }).text ?? JSON.stringify(output);
}

/** Answers with the output of the tool it just called. */
const quoteTool = modelResponder((call) => [assistantMessage(`Tool said: ${lastToolOutput(call)}`)]);

async function serve(database: TestDatabase, mounts: [Agent<any, any>, string, object?][]): Promise<TestServer> {
  const app = express();
  for (const [agent, prefix, options] of mounts) {
    app.use(createAgentRouter(agent, prefix, () => database.db, { getUserId, logger: quiet, ...options }));
  }
  return listen(app);
}

describeEachEngine('rememberTool and recallTool', (engine) => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(() => database.destroy());

  it('remembers in one chat, recalls in a later chat of the same user, and finds nothing for another user', async () => {
    const creator = new Agent({
      name: 'Character creator',
      model: new ScriptedModel([
        [functionCall('remember', { content: 'The hero is a dwarf fighter named Brom.', importance: 0.9 }, { callId: 'call_remember' })],
        quoteTool,
      ]),
      tools: [rememberTool()],
    });
    const recallCall = (query: string, callId: string) => [functionCall('recall', { query }, { callId })];
    const keeper = new Agent({
      name: 'Keeper',
      // Bob's model asks for Alice by name: the tool has no user argument, so it still searches Bob's.
      model: new ScriptedModel([recallCall('Brom', 'call_a'), quoteTool, recallCall('alice Brom dwarf', 'call_b'), quoteTool]),
      tools: [recallTool()],
    });
    server = await serve(database, [
      [creator, '/characters'],
      [keeper, '/keeper'],
    ]);

    const told = await request(server, 'POST', '/characters/run', { ...as('alice'), body: { input: 'My hero is Brom.' } });
    expect(told.status).toBe(200);
    expect(told.body.final_output).toMatch(/^Tool said: Remembered \(memory [0-9a-f-]{36}\)\.$/);

    // No session_id: a new chat.
    const later = await request(server, 'POST', '/keeper/run', { ...as('alice'), body: { input: 'Who is my hero?' } });
    expect(later.status).toBe(200);
    expect(later.body.session_id).not.toBe(told.body.session_id);
    expect(later.body.final_output).toMatch(/^Tool said: - The hero is a dwarf fighter named Brom\. \(importance 0\.9, remembered \d{4}-\d\d-\d\d\)$/);

    const other = await request(server, 'POST', '/keeper/run', { ...as('bob'), body: { input: 'Who is Alice’s hero?' } });
    expect(other.status).toBe(200);
    expect(other.body.final_output).toBe('Tool said: Nothing remembered matches.');

    const rows = await database.db
      .selectFrom('agent_memories')
      .select(['user_id', 'agent_name', 'chat_id', 'run_id'])
      .execute();
    expect(rows).toEqual([{ user_id: 'alice', agent_name: 'Character creator', chat_id: told.body.session_id, run_id: told.body.run_id }]);
  });

  it('take other names, and refuse bad options at start-up', () => {
    expect(rememberTool({ name: 'note_down' }).name).toBe('note_down');
    expect(recallTool({ name: 'look_up', limit: 3 }).name).toBe('look_up');
    expect(() => rememberTool({ name: 'has spaces' })).toThrow(ConfigurationError);
    expect(() => recallTool({ limit: 0 })).toThrow(ConfigurationError);
  });
});

it('the tools fail in a run the router did not start: it would say whose memories they are', async () => {
  const agent = new Agent({
    name: 'Loose',
    model: new ScriptedModel([[functionCall('remember', { content: 'x', importance: 0.5 }, { callId: 'c1' })], quoteTool]),
    tools: [rememberTool()],
  });
  const result = await run(agent, 'hi');
  expect(result.finalOutput).toMatch(/^Tool said: An error occurred while running the tool/);
});

describePostgres('the memories.recall option', () => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  beforeEach(async () => {
    await sql`DELETE FROM agent_memories`.execute(database.db);
    const store = new PostgresMemoryStore({ db: database.db });
    await store.remember('alice', { content: 'The hero is a dwarf fighter named Brom.', importance: 0.9 });
    await store.remember('alice', { content: 'Brom was born in Emberfall.', importance: 0.6 });
    await store.remember('alice', { content: 'Alice likes short answers.', importance: 0.3 });
    await store.remember('bob', { content: 'Bob’s hero Brom is an elf.', importance: 1 });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(() => database.destroy());

  /** An agent whose model writes down the instructions of each call; with a tool to call first, when given. */
  function recordingAgent(steps: ('tool' | 'answer')[]) {
    const instructions: (string | undefined)[] = [];
    const model = new ScriptedModel(
      steps.map((step, index) =>
        modelResponder(({ request: sent }) => {
          instructions.push(sent.systemInstructions);
          return step === 'tool'
            ? [functionCall('recall', { query: 'Brom' }, { callId: `call_${index}` })]
            : [assistantMessage('ok')];
        }),
      ),
    );
    const agent = new Agent({ name: 'World builder', instructions: 'Describe places.', model, tools: [recallTool()] });
    return { agent, instructions };
  }

  it('adds the user’s best-matching memories to the instructions, for that user only', async () => {
    const { agent, instructions } = recordingAgent(['answer', 'answer']);
    server = await serve(database, [[agent, '/world', { memories: { recall: { topK: 2 } } }]]);
    const answer = await request(server, 'POST', '/world/run', { ...as('alice'), body: { input: 'Where does Brom come from?' } });
    expect(answer.status).toBe(200);
    const lines = instructions[0]!.split('\n');
    expect(lines.slice(0, 3)).toEqual(['Describe places.', '', RECALLED_MEMORIES_HEADING]);
    expect(lines.slice(3)).toEqual([
      expect.stringMatching(/^- The hero is a dwarf fighter named Brom\. \(importance 0\.9, remembered [\d-]+\)$/),
      expect.stringMatching(/^- Brom was born in Emberfall\. \(importance 0\.6, remembered [\d-]+\)$/),
    ]);
    const used = await database.db.selectFrom('agent_memories').select(['content', 'last_used_at']).where('user_id', '=', 'alice').execute();
    expect(used.filter((row) => row.last_used_at !== null).map((row) => row.content).sort()).toEqual([
      'Brom was born in Emberfall.',
      'The hero is a dwarf fighter named Brom.',
    ]);

    // Bob shares nothing with Alice; a user without a matching memory gets the instructions as they are.
    await request(server, 'POST', '/world/run', { ...as('carol'), body: { input: 'Where does Brom come from?' } });
    expect(instructions[1]).toBe('Describe places.');
  });

  it('keeps the same memories for every model call of the run (after a tool call)', async () => {
    const { agent, instructions } = recordingAgent(['tool', 'answer']);
    server = await serve(database, [[agent, '/world', { memories: { recall: {} } }]]);
    const answer = await request(server, 'POST', '/world/run', { ...as('bob'), body: { input: 'Tell me about my hero Brom' } });
    expect(answer.status).toBe(200);
    expect(instructions).toHaveLength(2);
    expect(instructions[0]).toContain('- Bob’s hero Brom is an elf.');
    expect(instructions[0]).not.toContain('dwarf');
    expect(instructions[1]).toBe(instructions[0]);
  });

  it('is refused at start-up with a topK out of range', () => {
    const { agent } = recordingAgent([]);
    expect(() => createAgentRouter(agent, '/world', () => database.db, { logger: quiet, memories: { recall: { topK: 0 } } })).toThrow(
      ConfigurationError,
    );
    expect(() => createAgentRouter(agent, '/world', () => database.db, { logger: quiet, memories: { remember: true } as never })).toThrow(
      /unknown option/i,
    );
  });
});

describe('memories.recall on pg-mem', () => {
  it('adds the memories too (substring search there)', async () => {
    const database = await createTestDatabase('pg-mem');
    try {
      await new PostgresMemoryStore({ db: database.db }).remember('alice', { content: 'The hero is named Brom.', importance: 0.8 });
      const seen: (string | undefined)[] = [];
      const model = new ScriptedModel([
        modelResponder(({ request: sent }) => {
          seen.push(sent.systemInstructions);
          return [assistantMessage('ok')];
        }),
      ]);
      const server = await serve(database, [[new Agent({ name: 'World builder', model }), '/world', { memories: { recall: { topK: 1 } } }]]);
      try {
        expect((await request(server, 'POST', '/world/run', { ...as('alice'), body: { input: 'Who is my hero?' } })).status).toBe(200);
      } finally {
        await server.close();
      }
      expect(seen[0]).toMatch(new RegExp(`^${RECALLED_MEMORIES_HEADING.replace(/[()]/g, '\\$&')}\n- The hero is named Brom\\.`));
    } finally {
      await database.destroy();
    }
  });
});
