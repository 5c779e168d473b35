// The multi-agent example's Express app: its three agents, the chat and memory APIs, and
// `GET /agents` for a page's agent picker, in front of a folder of static files (the page). Two
// examples serve it: this one with its plain HTML page, examples/react-chat with a React build.
import express, { type Express, type Request } from 'express';
import { createAgentRouter, createChatRouter, createMemoryRouter } from 'express-agent-router';
import type { Kysely } from 'kysely';
import type { MountedAgent } from './agents.js';

export interface MultiAgentAppOptions {
  db: Kysely<any>;
  agents: MountedAgent[];
  /** The page's files, served at `/`. */
  staticDir: string;
}

export function createMultiAgentApp({ db, agents, staticDir }: MultiAgentAppOptions): Express {
  // DEMO ONLY: whoever sends the request says who they are, in the `x-user-id` header, so anyone
  // can read anyone's chats by sending their name. In a real app the user comes from your
  // authentication middleware (passport, express-jwt, express-session...), which has checked a
  // password, a token or a cookie before this runs:
  //   const getUserId = (req: Request) => req.user?.id;
  const getUserId = (req: Request) => req.header('x-user-id');
  const getDb = () => db;

  const app = express();
  // Before the routers: they answer 401 to a request without a user, and a page has none.
  app.use(express.static(staticDir));
  // Tells the page which agents it can talk to.
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
  return app;
}
