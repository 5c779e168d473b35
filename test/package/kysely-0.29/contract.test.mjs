// A host's test file: the ChatStore contract suite from express-agent-router/testing, run with
// vitest on a store of the package (a host would pass its own). Run by .ci/package-check.sh.
import { afterAll, describe } from 'vitest';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PostgresChatStore, PostgresSession, migrate } from 'express-agent-router';
import { chatStoreContract } from 'express-agent-router/testing';

const db = new Kysely({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});
afterAll(() => db.destroy());

describe('PostgresChatStore, from the packed package', () => {
  chatStoreContract(async () => {
    await migrate(db);
    return {
      store: new PostgresChatStore({ db }),
      addItems: (chatId, items, agentName) => new PostgresSession({ db, sessionId: chatId, agentName }).addItems(items),
      addRun: async (chatId, run) => {
        await sql`
          INSERT INTO agent_runs (id, session_id, agent_name, status, input, started_at)
          VALUES (${run.id}, ${chatId}, 'Assistant', 'completed', ${JSON.stringify({ v: run.input })}, ${run.startedAt})
        `.execute(db);
      },
    };
  });
});
