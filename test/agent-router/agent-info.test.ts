import { fileURLToPath } from 'node:url';
import { Agent, MCPServerStdio, MCPServerStreamableHttp, RunContext, type MCPServer } from '@openai/agents';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

const TASK_SERVER = fileURLToPath(new URL('../../examples/mcp-tasks/task-server.ts', import.meta.url));
const TASK_TOOLS = ['add_task', 'list_tasks', 'complete_task', 'delete_task'];

/** The MCP example's task server, started as its own process over stdio. */
function taskServer(options: Partial<ConstructorParameters<typeof MCPServerStdio>[0]> = {}) {
  return new MCPServerStdio({
    name: 'tasks',
    command: process.execPath,
    args: ['--import', 'tsx', TASK_SERVER],
    clientSessionTimeoutSeconds: 30,
    ...options,
  } as ConstructorParameters<typeof MCPServerStdio>[0]);
}

/** An MCP server that is connected but never answers: listTools() stays pending for ever. */
function silentServer(name: string): MCPServer {
  return {
    name,
    cacheToolsList: false,
    connect: async () => {},
    close: async () => {},
    listTools: () => new Promise(() => {}),
    callTool: () => new Promise(() => {}),
    invalidateToolsCache: async () => {},
  };
}

describe('GET {prefix}/info and the agent’s MCP servers', () => {
  let server: TestServer | undefined;
  const live = taskServer();
  const filtered = taskServer({ name: 'filtered tasks', toolFilter: { blockedToolNames: ['delete_task'] } });
  beforeAll(async () => {
    await Promise.all([live.connect(), filtered.connect()]);
  });
  afterAll(async () => {
    await Promise.all([live.close(), filtered.close()]);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function info(mcpServers: MCPServer[]) {
    const app = express();
    const agent = new Agent({ name: 'Keeper', mcpServers });
    app.use(createAgentRouter(agent, '/keeper', noDb, { getUserId: (req) => req.header('x-user-id'), logger: quiet }));
    server = await listen(app);
    const answer = await request(server, 'GET', '/keeper/info', alice);
    expect(answer.status).toBe(200);
    // The rest of the answer is there whatever the servers did.
    expect(answer.body).toMatchObject({ name: 'Keeper', endpoints: { info: '/keeper/info' } });
    return answer.body.mcp_servers;
  }

  it('reports an agent without MCP servers with an empty list', async () => {
    expect(await info([])).toEqual([]);
  });

  it('names a live stdio server and the tools it lists', async () => {
    expect(await info([live])).toEqual([{ name: 'tasks', tools: TASK_TOOLS }]);
  });

  it("leaves out the tools the server's static toolFilter blocks, as a run does", async () => {
    expect(await info([filtered])).toEqual([{ name: 'filtered tasks', tools: ['add_task', 'list_tasks', 'complete_task'] }]);
    // The tools the SDK offers the model in a run are the same ones.
    const offered = await new Agent({ name: 'Keeper', mcpServers: [filtered] }).getMcpTools(new RunContext({}));
    expect(offered.map((tool) => tool.name)).toEqual(['add_task', 'list_tasks', 'complete_task']);
  });

  it('reports a server that failed to start as unavailable, beside a live one', async () => {
    const broken = taskServer({ name: 'broken', command: '/nonexistent/mcp-server', args: [], logger: silentLogger() });
    await expect(broken.connect()).rejects.toThrow();
    expect(await info([broken, live])).toEqual([
      { name: 'broken', tools: [], error: 'unavailable: the server could not list its tools (down, or not connected)' },
      { name: 'tasks', tools: TASK_TOOLS },
    ]);
  });

  it('reports a server that was never connected, or was closed, as unavailable', async () => {
    const never = taskServer({ name: 'never connected' });
    const closed = taskServer({ name: 'closed' });
    await closed.connect();
    await closed.close();
    const answer = await info([never, closed]);
    expect(answer).toEqual([
      { name: 'never connected', tools: [], error: expect.stringMatching(/^unavailable: /) },
      { name: 'closed', tools: [], error: expect.stringMatching(/^unavailable: /) },
    ]);
  });

  it('gives up on a server that does not answer, and still answers for the others', async () => {
    expect(await info([silentServer('silent'), live])).toEqual([
      { name: 'silent', tools: [], error: 'unavailable: the server did not list its tools within 2000 ms' },
      { name: 'tasks', tools: TASK_TOOLS },
    ]);
  });

  it('drops the password and the query of a URL in a server name', async () => {
    const remote = new MCPServerStreamableHttp({ url: 'https://bob:hunter2@mcp.example.com/mcp?token=abc#frag', logger: silentLogger() });
    const [reported] = await info([remote]);
    expect(reported.name).toBe('streamable-http: https://mcp.example.com/mcp');
    expect(JSON.stringify(reported)).not.toMatch(/hunter2|token|abc|frag/);
  });
});

/** A logger for the SDK's MCP servers that keeps the expected connection errors out of the output. */
function silentLogger() {
  const logger = { namespace: 'test', debug: () => {}, error: () => {}, warn: () => {}, dontLogModelData: true, dontLogToolData: true };
  return logger as unknown as NonNullable<ConstructorParameters<typeof MCPServerStdio>[0]['logger']>;
}
