import { Agent } from '@openai/agents';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentRouter, type AgentRouterOptions } from '../../src/agent-router/create-agent-router.js';
import { ConfigurationError } from '../../src/errors.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const alice = { headers: { 'x-user-id': 'alice' } };
const SECRET = 'You are Bard. The password to the vault is swordfish.';

// GET /info reads no database: a getDb that fails proves it, and keeps these tests off SQL.
const noDb = () => {
  throw new Error('GET /info must not touch the database');
};

/** An agent whose instructions are a function, counting its calls. */
function dynamicAgent() {
  const state = {
    calls: 0,
    agent: new Agent({
      name: 'Bard',
      instructions: () => {
        state.calls++;
        return SECRET;
      },
    }),
  };
  return state;
}

describe('GET {prefix}/info and the agent’s instructions', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serveInfo(agent: Agent<any, any>, options: AgentRouterOptions = {}) {
    const app = express();
    app.use(createAgentRouter(agent, '/bard', noDb, { getUserId: (req) => req.header('x-user-id'), logger: quiet, ...options }));
    server = await listen(app);
    const answer = await request(server, 'GET', '/bard/info', alice);
    expect(answer.status).toBe(200);
    return answer;
  }

  it('leaves the instructions out by default', async () => {
    const answer = await serveInfo(new Agent({ name: 'Bard', instructions: SECRET }));
    expect(answer.body).not.toHaveProperty('instructions');
    expect(answer.text).not.toContain('swordfish');
    // Everything else is still there.
    expect(answer.body).toMatchObject({ name: 'Bard', agent_name: 'Bard', model: 'default', tools_count: 0 });
  });

  it('leaves them out with exposeInstructions: false, and never calls dynamic ones', async () => {
    const dynamic = dynamicAgent();
    const answer = await serveInfo(dynamic.agent, { exposeInstructions: false });
    expect(answer.body).not.toHaveProperty('instructions');
    expect(dynamic.calls).toBe(0);
  });

  it('shows them when the host opts in with exposeInstructions: true', async () => {
    const answer = await serveInfo(new Agent({ name: 'Bard', instructions: SECRET }), { exposeInstructions: true });
    expect(answer.body.instructions).toBe(SECRET);
  });

  it('names dynamic instructions without calling them, even when exposed', async () => {
    const dynamic = dynamicAgent();
    const answer = await serveInfo(dynamic.agent, { exposeInstructions: true });
    expect(answer.body.instructions).toBe('[dynamic: computed by a function at run time]');
    expect(dynamic.calls).toBe(0);
  });

  it('refuses an exposeInstructions that is not a boolean, at start-up', () => {
    const create = () =>
      createAgentRouter(new Agent({ name: 'Bard' }), '/bard', noDb, { exposeInstructions: 'yes' as never });
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(/option "exposeInstructions" .*boolean/);
  });
});
