// The multi-agent example: three agents and the chat API on one Express app, with a chat page.
//
//   npm run example                     pg-mem and the offline demo model: nothing to set up
//   DATABASE_URL=postgres://... npm run example     your PostgreSQL
//   OPENAI_API_KEY=sk-... npm run example           OpenAI's model (OPENAI_MODEL, default gpt-4o-mini)
import { fileURLToPath } from 'node:url';
import express, { type Request } from 'express';
import { createAgentRouter, createChatRouter, createMemoryRouter, migrate } from 'express-agent-router';
import { openDatabase } from '../shared/database.js';
import { chooseModel } from '../shared/model-choice.js';
import { serve } from '../shared/serve.js';
import { createAgents } from './agents.js';
import { startUpText } from './start-up-text.js';

const database = openDatabase();
// Creates or updates the library's tables; safe at every start-up.
await migrate(database.db);
const models = chooseModel();
const agents = createAgents(models);

// DEMO ONLY: whoever sends the request says who they are, in the `x-user-id` header, so anyone
// can read anyone's chats by sending their name. In a real app the user comes from your
// authentication middleware (passport, express-jwt, express-session...), which has checked a
// password, a token or a cookie before this runs:
//   const getUserId = (req: Request) => req.user?.id;
const getUserId = (req: Request) => req.header('x-user-id');
const getDb = () => database.db;

const app = express();
// The chat page (public/index.html): plain HTML and JavaScript, no build step.
app.use(express.static(fileURLToPath(new URL('./public/', import.meta.url))));
// Tells the chat page which agents it can talk to.
app.get('/agents', (_req, res) => {
  res.json({
    agents: agents.map(({ agent, prefix, description }) => ({ name: agent.name, prefix, description })),
  });
});
for (const { agent, prefix, routerOptions } of agents) {
  app.use(createAgentRouter(agent, prefix, getDb, { getUserId, ...routerOptions }));
}
app.use(createChatRouter(getDb, { getUserId }));
// What is remembered about the caller, across chats: GET /memories, DELETE /memories(/:memory_id).
app.use(createMemoryRouter(getDb, { getUserId }));

serve(app, {
  startUpText: (url) => startUpText({ url, database: database.description, model: models.description, agents }),
  onClose: () => database.close(),
});
