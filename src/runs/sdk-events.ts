import type { RunItem, RunStreamEvent } from '@openai/agents';
import type { RunEvent } from './run-payloads.js';

/**
 * The SDK's run events as the library's run events (what /stream sends and followers replay):
 * pure mappings, no I/O. `agent.updated` is emitted for every agent event; the engine drops the
 * ones that name the agent already answering.
 */

/** The events one SDK stream event stands for (often none). */
export function runEventsOfStreamEvent(event: RunStreamEvent): RunEvent[] {
  if (event.type === 'raw_model_stream_event') {
    const data = event.data as { type: string; delta?: string };
    return data.type === 'output_text_delta' && data.delta ? [{ event: 'text.delta', data: { delta: data.delta } }] : [];
  }
  if (event.type === 'agent_updated_stream_event') {
    return [{ event: 'agent.updated', data: { agent_name: event.agent.name } }];
  }
  if (event.name === 'tool_called' || event.name === 'tool_output') return runEventsOfItem(event.item);
  return [];
}

/**
 * The events of a run's items after the fact, for a run that was not streamed: its tool calls,
 * their outputs and its handoffs, in order (the text arrives whole, with the final output).
 */
export function runEventsOfItems(items: readonly RunItem[]): RunEvent[] {
  return items.flatMap((item) => {
    if (item.type === 'handoff_output_item') {
      return [{ event: 'agent.updated' as const, data: { agent_name: item.targetAgent.name } }];
    }
    return runEventsOfItem(item);
  });
}

function runEventsOfItem(item: RunItem): RunEvent[] {
  if (item.type === 'tool_call_item') {
    const raw = item.rawItem as { type: string; name?: string; arguments?: string; callId?: string; id?: string; action?: unknown };
    return [
      {
        event: 'tool.called',
        data: {
          name: raw.name ?? raw.type,
          arguments: raw.arguments ?? (raw.action === undefined ? '' : JSON.stringify(raw.action)),
          call_id: raw.callId ?? raw.id ?? null,
        },
      },
    ];
  }
  if (item.type === 'tool_call_output_item') {
    const output = (item as { output?: unknown }).output;
    const raw = item.rawItem as { callId?: string; id?: string };
    return [
      {
        event: 'tool.output',
        data: {
          call_id: raw.callId ?? raw.id ?? null,
          output: typeof output === 'string' ? output : JSON.stringify(output ?? null),
        },
      },
    ];
  }
  return [];
}
