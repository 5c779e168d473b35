// The React example: the multi-agent example's app (three agents, the chat and memory APIs),
// serving a React front end built with Vite, which talks to the agents with the AI SDK's useChat.
//
//   npm run example:react                     builds the library and the front end, then starts
//   DATABASE_URL=postgres://... npm run example:react     your PostgreSQL instead of pg-mem
//   OPENAI_API_KEY=sk-... npm run example:react           OpenAI's model instead of the demo one
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { migrate } from 'express-agent-router';
import { createAgents } from '../multi-agent/agents.js';
import { createMultiAgentApp } from '../multi-agent/app.js';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';
import { serve } from '../shared/serve.js';

// What `vite build` wrote (vite.config.ts).
const frontEnd = fileURLToPath(new URL('./dist/', import.meta.url));
if (!existsSync(`${frontEnd}index.html`)) {
  console.error('The front end is not built: run `npm run example:react`, which builds it first.');
  process.exit(1);
}

const database = openDatabase();
// Creates or updates the library's tables; safe at every start-up.
await migrate(database.db);
const models = chooseModel();
const agents = createAgents(models);
const app = createMultiAgentApp({ db: database.db, agents, staticDir: frontEnd });

serve(app, {
  startUpText: (url) => `
express-agent-router: React chat example (useChat)

  database   ${database.description}
  model      ${models.description}
  agents     ${agents.map(({ agent, prefix }) => `${prefix} (${agent.name})`).join(', ')}
  endpoints  POST {prefix}/chat, GET {prefix}/chat/:id/stream, GET {prefix}/chat/:id/messages
  page       ${url}/

Listening on ${url} (Ctrl+C to stop)`,
  onClose: () => database.close(),
});
