import type { Agent } from '@openai/agents';

/** What `GET {prefix}/info` tells about a mounted agent. */
export function agentInfo(agent: Agent<any, any>, prefix: string) {
  return {
    name: agent.name,
    agent_name: agent.name,
    // Instructions given as a function depend on the run; they are named, not called.
    instructions:
      typeof agent.instructions === 'function' ? '[dynamic: computed by a function at run time]' : agent.instructions,
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

function modelName(model: unknown): string {
  if (typeof model === 'string') return model || 'default';
  const named = model as { model?: unknown; constructor?: { name?: string } } | undefined;
  if (typeof named?.model === 'string') return named.model;
  return named?.constructor?.name ?? 'custom';
}
