import { z } from 'zod';

/**
 * `GET {prefix}/info`'s answer as a zod schema, for the OpenAPI document. `AgentInfoBody` and
 * `McpServerInfo` (agent-info.ts) stay the public types; a type test keeps them equal.
 */

export const mcpServerInfoSchema = z.strictObject({
  name: z.string().describe("The server's name, without the credentials, query or fragment of a URL in it."),
  tools: z.array(z.string()).describe("The names of the tools it lists, after the server's static `toolFilter`."),
  error: z.string().optional().describe('Set when the server did not list its tools (down, never connected, or too slow); `tools` is empty.'),
});

export const agentInfoBodySchema = z.strictObject({
  name: z.string(),
  agent_name: z.string(),
  instructions: z.string().optional().describe("Only with the router's `exposeInstructions: true`."),
  model: z.string(),
  tools_count: z.number().int().nonnegative(),
  handoffs_count: z.number().int().nonnegative(),
  mcp_servers: z.array(mcpServerInfoSchema),
  endpoints: z
    .strictObject({
      run: z.string(),
      stream: z.string(),
      approvals: z.string().describe('`POST`: decide the tool calls a run waits for.'),
      info: z.string(),
      chat: z.string().describe("The AI SDK's `useChat` endpoint."),
      chat_stream: z.string(),
      chat_messages: z.string(),
    })
    .describe('Every endpoint of the agent router, under its prefix; `{run_id}` and `{chat_id}` stand for the ids a client fills in.'),
  session_config: z.strictObject({ sessions_enabled: z.literal(true), session_type: z.literal('PostgreSQL'), description: z.string() }),
});
