// A new user's first script: migrate a real database, run an agent with PostgresSession.
import { Agent, run } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PostgresSession, migrate } from 'express-agent-router';

const db = new Kysely({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});
await migrate(db);
const agent = new Agent({
  name: 'Assistant',
  model: new ScriptedModel([[assistantMessage('Hello Grace, I will remember that.')]]),
});
const result = await run(agent, 'My name is Grace.', {
  session: new PostgresSession({ db, sessionId: process.env.SESSION_ID }),
});
console.log(result.finalOutput);
await db.destroy();
