// A second process: the history written by first-run.mjs is there, and the agent is sent it.
import { Agent, run } from '@openai/agents';
import { ScriptedModel, modelResponder, assistantMessage } from '@openai/agents/testing';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PostgresSession } from 'express-agent-router';

const db = new Kysely({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});
const agent = new Agent({
  name: 'Assistant',
  model: new ScriptedModel([
    modelResponder(({ request }) => {
      const said = request.input.map((item) => `${item.role}: ${typeof item.content === 'string' ? item.content : item.content.map((p) => p.text).join('')}`);
      return [assistantMessage(`I was sent: ${said.join(' | ')}`)];
    }),
  ]),
});
const session = new PostgresSession({ db, sessionId: process.env.SESSION_ID });
const result = await run(agent, 'What is my name?', { session });
console.log(result.finalOutput);
const expected = 'I was sent: user: My name is Grace. | assistant: Hello Grace, I will remember that. | user: What is my name?';
if (result.finalOutput !== expected) throw new Error(`history not seen: ${result.finalOutput}`);
if ((await session.getItems()).length !== 4) throw new Error('expected 4 stored items');
await db.destroy();
