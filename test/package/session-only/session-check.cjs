// The scenario every session-only consumer script plays, given the module it imported from
// express-agent-router/session (ESM or CJS, from JS or TS): migrate a real database, run an
// agent twice on one PostgresSession, and check the second run was sent the first one's turn.
const { Agent, run } = require('@openai/agents');
const { ScriptedModel, assistantMessage, modelResponder } = require('@openai/agents/testing');
const { Kysely, PostgresDialect, sql } = require('kysely');
const pg = require('pg');

const text = (item) => (typeof item.content === 'string' ? item.content : item.content.map((part) => part.text).join(''));

exports.checkSession = async function checkSession(lib, label) {
  for (const name of ['PostgresSession', 'migrate', 'AgentRouterError', 'InvalidArgumentError']) {
    if (typeof lib[name] !== 'function') throw new Error(`${label}: export ${name} is missing`);
  }
  try {
    new lib.PostgresSession({});
    throw new Error(`${label}: PostgresSession accepted no db`);
  } catch (error) {
    if (!(error instanceof lib.InvalidArgumentError && error instanceof lib.AgentRouterError)) throw error;
  }
  const db = new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
  });
  try {
    await lib.migrate(db);
    const recorded = await sql`SELECT count(*)::int AS n FROM ${sql.table(lib.MIGRATIONS_TABLE)}`.execute(db);
    if (!(recorded.rows[0].n > 0)) throw new Error(`${label}: no migration recorded in ${lib.MIGRATIONS_TABLE}`);
    const sessionId = `session-only-${label}`;
    const agent = new Agent({
      name: 'Assistant',
      model: new ScriptedModel([
        [assistantMessage('Noted, Grace.')],
        modelResponder(({ request }) => [assistantMessage(request.input.map(text).join(' | '))]),
      ]),
    });
    await run(agent, 'My name is Grace.', { session: new lib.PostgresSession({ db, sessionId }) });
    const session = new lib.PostgresSession({ db, sessionId });
    const second = await run(agent, 'What is my name?', { session });
    if (second.finalOutput !== 'My name is Grace. | Noted, Grace. | What is my name?') {
      throw new Error(`${label}: the second run was not sent the history: ${second.finalOutput}`);
    }
    const stored = await session.getItems();
    if (stored.length !== 4) throw new Error(`${label}: expected 4 stored items, got ${stored.length}`);
  } finally {
    await db.destroy();
  }
  console.log(`${label}: express-agent-router/session ok`);
};
