import type { Agent, MCPServer } from '@openai/agents';

export interface AgentInfoOptions {
  /** Whether the answer carries the agent's instructions (the router's `exposeInstructions`). */
  exposeInstructions: boolean;
  /** How long each MCP server has to list its tools. Defaults to 2 s. */
  mcpListTimeoutMs?: number;
}

/** One of the agent's MCP servers as `GET {prefix}/info` reports it. */
export interface McpServerInfo {
  /** The server's `name`, without the credentials, query or fragment of a URL in it. */
  name: string;
  /** The names of the tools it lists, after the server's static `toolFilter`. */
  tools: string[];
  /** Set when the server did not list its tools (down, never connected, or too slow); `tools` is empty. */
  error?: string;
}

/** The paths of an agent router's endpoints, as `GET {prefix}/info` lists them. */
export interface AgentEndpoints {
  run: string;
  stream: string;
  /** `POST`: decide the tool calls a run waits for. */
  approvals: string;
  info: string;
  /** The AI SDK's `useChat` endpoints: send a message, resume a stream, read the history. */
  chat: string;
  chat_stream: string;
  chat_messages: string;
}

/** `GET {prefix}/info`: what a mounted agent is, and how to call it. */
export interface AgentInfoBody {
  name: string;
  agent_name: string;
  /** Only with the router's `exposeInstructions: true` (absent otherwise, not `null`). */
  instructions?: string;
  model: string;
  tools_count: number;
  handoffs_count: number;
  mcp_servers: McpServerInfo[];
  /**
   * Every endpoint of the agent router, under its prefix; `{run_id}` and `{chat_id}` stand for the
   * ids a client fills in.
   */
  endpoints: AgentEndpoints;
  session_config: { sessions_enabled: true; session_type: 'PostgreSQL'; description: string };
}

const MCP_LIST_TIMEOUT_MS = 2_000;

/**
 * What `GET {prefix}/info` tells about a mounted agent. The instructions are often a private
 * system prompt, so they are left out (the field is absent, not `null`, which could read as "this
 * agent has none") unless the host opted in.
 *
 * Each of the agent's own MCP servers is asked for its tools on every call, all at once, each
 * within `mcpListTimeoutMs`: a server that is down, was never connected or does not answer in
 * time is reported with an `error`, and the rest of the answer is unaffected. Asking costs what a
 * run pays before each model call (the SDK lists the tools then too); a server created with
 * `cacheToolsList: true` answers from the SDK's cache without any I/O, at the price that a
 * server which has crashed since still shows its cached tools.
 */
export async function agentInfo(agent: Agent<any, any>, prefix: string, options: AgentInfoOptions): Promise<AgentInfoBody> {
  return {
    name: agent.name,
    agent_name: agent.name,
    ...(options.exposeInstructions ? { instructions: describeInstructions(agent.instructions) } : {}),
    model: modelName(agent.model),
    tools_count: agent.tools.length,
    handoffs_count: agent.handoffs.length,
    mcp_servers: await Promise.all(
      agent.mcpServers.map((server) => describeMcpServer(server, options.mcpListTimeoutMs ?? MCP_LIST_TIMEOUT_MS)),
    ),
    endpoints: {
      run: `${prefix}/run`,
      stream: `${prefix}/stream`,
      approvals: `${prefix}/runs/{run_id}/approvals`,
      info: `${prefix}/info`,
      chat: `${prefix}/chat`,
      chat_stream: `${prefix}/chat/{chat_id}/stream`,
      chat_messages: `${prefix}/chat/{chat_id}/messages`,
    },
    session_config: {
      sessions_enabled: true,
      session_type: 'PostgreSQL',
      description:
        'Conversation memory is kept in PostgreSQL and shared by every agent mounted on the same database: ' +
        'pass a session_id (a chat id) to continue a conversation, or omit it to start a new chat.',
    },
  };
}

async function describeMcpServer(server: MCPServer, timeoutMs: number): Promise<McpServerInfo> {
  const name = withoutUrlSecrets(server.name);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    // A listTools() that never settles is left behind: the SDK gives no way to cancel it.
    const listed = await Promise.race([server.listTools(), timeout]);
    if (listed === 'timeout') {
      return { name, tools: [], error: `unavailable: the server did not list its tools within ${timeoutMs} ms` };
    }
    return { name, tools: listed.filter((tool) => passesStaticFilter(server, tool.name)).map((tool) => tool.name) };
  } catch {
    // The SDK's message may name a command, a path or an endpoint: callers get a fixed sentence.
    return { name, tools: [], error: 'unavailable: the server could not list its tools (down, or not connected)' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The allow and block lists of a server's `toolFilter`, as the SDK applies them to a run. A filter
 * written as a function decides per run (it receives the run context), so it is not applied here.
 */
function passesStaticFilter(server: MCPServer, toolName: string): boolean {
  const filter = server.toolFilter;
  if (!filter || typeof filter === 'function') return true;
  const allowed = filter.allowedToolNames ?? [];
  const blocked = filter.blockedToolNames ?? [];
  return (allowed.length === 0 || allowed.includes(toolName)) && !blocked.includes(toolName);
}

/**
 * A remote server's default name is its URL (`streamable-http: https://...`), which may carry a
 * password or a token in its query: those parts are dropped from every URL in the name.
 */
function withoutUrlSecrets(name: string): string {
  return name.replace(/\bhttps?:\/\/\S+/gi, (text) => {
    try {
      const url = new URL(text);
      return `${url.protocol}//${url.host}${url.pathname}`;
    } catch {
      return '<url>';
    }
  });
}

function describeInstructions(instructions: Agent<any, any>['instructions']): string {
  // Instructions given as a function depend on the run; they are named, not called.
  return typeof instructions === 'function' ? '[dynamic: computed by a function at run time]' : instructions;
}

function modelName(model: unknown): string {
  if (typeof model === 'string') return model || 'default';
  const named = model as { model?: unknown; constructor?: { name?: string } } | undefined;
  if (typeof named?.model === 'string') return named.model;
  return named?.constructor?.name ?? 'custom';
}
