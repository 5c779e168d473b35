// The multi-agent example: three agents and the chat API on one Express app, with a chat page.
//
//   npm run example                     pg-mem and the offline demo model: nothing to set up
//   DATABASE_URL=postgres://... npm run example     your PostgreSQL
//   OPENAI_API_KEY=sk-... npm run example           OpenAI's model (OPENAI_MODEL, default gpt-4o-mini)
import { fileURLToPath } from 'node:url';
import { migrate } from 'express-agent-router';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';
import { serve } from '../shared/serve.js';
import { createAgents } from './agents.js';
import { createMultiAgentApp } from './app.js';
import { startUpText } from './start-up-text.js';

const database = openDatabase();
// Creates or updates the library's tables; safe at every start-up.
await migrate(database.db);
const models = chooseModel();
const agents = createAgents(models);

// The routers, on `x-user-id` as the user (demo only: see app.ts), and the chat page
// (public/index.html: plain HTML and JavaScript, no build step).
const app = createMultiAgentApp({ db: database.db, agents, staticDir: fileURLToPath(new URL('./public/', import.meta.url)) });

serve(app, {
  startUpText: (url) => startUpText({ url, database: database.description, model: models.description, agents }),
  onClose: () => database.close(),
});
