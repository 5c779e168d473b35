import type { Agent } from '@openai/agents';

export interface AgentInfoOptions {
  /** Whether the answer carries the agent's instructions (the router's `exposeInstructions`). */
  exposeInstructions: boolean;
}

/**
 * What `GET {prefix}/info` tells about a mounted agent. The instructions are often a private
 * system prompt, so they are left out (the field is absent, not `null`, which could read as "this
 * agent has none") unless the host opted in.
 */
export function agentInfo(agent: Agent<any, any>, prefix: string, options: AgentInfoOptions) {
  return {
    name: agent.name,
    agent_name: agent.name,
    ...(options.exposeInstructions ? { instructions: describeInstructions(agent.instructions) } : {}),
    model: modelName(agent.model),
    tools_count: agent.tools.length,
    handoffs_count: agent.handoffs.length,
    endpoints: { run: `${prefix}/run`, stream: `${prefix}/stream`, info: `${prefix}/info` },
    session_config: {
      sessions_enabled: true,
      session_type: 'PostgreSQL',
      description:
        'Conversation memory is kept in PostgreSQL and shared by every agent mounted on the same database: ' +
        'pass a session_id (a chat id) to continue a conversation, or omit it to start a new chat.',
    },
  };
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
