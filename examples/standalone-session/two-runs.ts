// PostgresSession on its own: two SDK `run()` calls on the same session, no Express anywhere.
// The second run is sent the first one's conversation, read back from the database.
//
//   npm run example:standalone                              pg-mem, offline demo model
//   DATABASE_URL=postgres://... SESSION_ID=my-notes npm run example:standalone
//        (run it again with the same SESSION_ID: the new process remembers the old one)
import { randomUUID } from 'node:crypto';
import { Agent, run } from '@openai/agents';
import { PostgresSession, migrate } from 'express-agent-router/session';
import { firstWords, type DemoScript } from '../shared/demo-model.js';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';

// Offline, the agent just reads back what it was sent, which is the whole point here: with a
// session, the SDK sends the model every earlier message of the session.
const recallScript: DemoScript = (chat) => {
  const earlier = chat.userMessages.slice(0, -1);
  if (earlier.length === 0) return { type: 'text', text: `Noted: "${chat.latest}" I will remember that.` };
  return {
    type: 'text',
    text:
      `You told me earlier: ${earlier.map((message) => `"${firstWords(message, 20)}"`).join(', ')} ` +
      `(${earlier.length} earlier message${earlier.length === 1 ? '' : 's'} of this session, read back from the database).`,
  };
};

const database = openDatabase();
await migrate(database.db);
const models = chooseModel();
const agent = new Agent({
  name: 'Note taker',
  instructions: 'Remember what the user tells you and answer questions about it in one sentence.',
  model: models.forAgent(recallScript),
});
const sessionId = process.env.SESSION_ID || randomUUID();

console.log(`express-agent-router: standalone PostgresSession example

  database  ${database.description}
  model     ${models.description}
  session   ${sessionId}
`);

const inputs = ['My name is Ada and I collect old maps.', 'What do I collect?'];
for (const [index, input] of inputs.entries()) {
  // A session object is cheap: a new one per run, as a web app makes one per request.
  const session = new PostgresSession({ db: database.db, sessionId });
  const result = await run(agent, input, { session });
  console.log(`Run ${index + 1}\n  you:   ${input}\n  agent: ${String(result.finalOutput)}\n`);
}

const items = await new PostgresSession({ db: database.db, sessionId }).getItems();
console.log(`The session now holds ${items.length} items.`);
await database.close();
