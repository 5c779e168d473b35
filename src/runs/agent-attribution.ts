import type { AgentInputItem, RunItem } from '@openai/agents';

/**
 * Which agent produced each item of a turn. Agents only change at a handoff, so the items are
 * walked in order: everything belongs to the agent the run started on (the user's input
 * included: the agent it was sent to) until a handoff's result, after which items belong to the
 * agent handed to, as the run's handoff output items say.
 */
export function attributeAgents(items: AgentInputItem[], startingAgent: string, newItems: readonly RunItem[]): string[] {
  const handoffTargets = new Map<string, string>();
  for (const runItem of newItems) {
    if (runItem.type === 'handoff_output_item') handoffTargets.set(runItem.rawItem.callId, runItem.targetAgent.name);
  }
  let current = startingAgent;
  return items.map((item) => {
    const producer = current;
    if ('type' in item && item.type === 'function_call_result') {
      current = handoffTargets.get(item.callId) ?? current;
    }
    return producer;
  });
}
