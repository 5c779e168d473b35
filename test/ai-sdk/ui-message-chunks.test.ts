import { asSchema, uiMessageChunkSchema } from 'ai';
import { expect, it } from 'vitest';
import { UiMessageMapper, type UiMessageChunk } from '../../src/ai-sdk/ui-message-chunks.js';
import { toUiMessages } from '../../src/ai-sdk/ui-messages.js';
import type { StoredItem } from '../../src/chats/chat-store.js';
import type { RecordedRunEvent, RunEvent } from '../../src/runs/run-payloads.js';

const ids = { session_id: 'chat', run_id: 'run-1', agent_name: 'Triage' };
const usage = { requests: 1, input_tokens: 0, output_tokens: 0, total_tokens: 0 };

/** Maps events (given ids 1, 2, 3...) and checks every chunk with ai's own schema. */
async function mapAll(events: RunEvent[]): Promise<UiMessageChunk[]> {
  const mapper = new UiMessageMapper();
  const chunks = events.flatMap((event, index) => mapper.map({ ...event, id: index + 1 } as RecordedRunEvent));
  for (const chunk of chunks) {
    const checked = await asSchema(uiMessageChunkSchema).validate!(chunk);
    expect(checked.success, JSON.stringify(chunk)).toBe(true);
  }
  return chunks;
}

it('maps text, tool calls and outputs into steps, with the run id as the message id', async () => {
  const chunks = await mapAll([
    { event: 'run.started', data: ids },
    { event: 'agent.updated', data: { agent_name: 'Forecaster' } },
    { event: 'text.delta', data: { delta: 'Let me look.' } },
    { event: 'tool.called', data: { name: 'get_weather', arguments: '{"city":"Oslo"}', call_id: 'c1' } },
    { event: 'tool.output', data: { call_id: 'c1', output: 'sunny' } },
    { event: 'text.delta', data: { delta: 'Sunny ' } },
    { event: 'text.delta', data: { delta: 'in Oslo.' } },
    { event: 'run.completed', data: { status: 'completed', final_output: 'Sunny in Oslo.', ...ids, agent_name: 'Forecaster', usage } },
  ]);
  expect(chunks).toEqual([
    { type: 'start', messageId: 'run-1', messageMetadata: { run_id: 'run-1', agent_name: 'Triage' } },
    { type: 'message-metadata', messageMetadata: { agent_name: 'Forecaster' } },
    { type: 'start-step' },
    { type: 'text-start', id: 'text-1' },
    { type: 'text-delta', id: 'text-1', delta: 'Let me look.' },
    { type: 'text-end', id: 'text-1' },
    { type: 'tool-input-available', toolCallId: 'c1', toolName: 'get_weather', input: { city: 'Oslo' } },
    { type: 'tool-output-available', toolCallId: 'c1', output: 'sunny' },
    { type: 'finish-step' },
    { type: 'start-step' },
    { type: 'text-start', id: 'text-2' },
    { type: 'text-delta', id: 'text-2', delta: 'Sunny ' },
    { type: 'text-delta', id: 'text-2', delta: 'in Oslo.' },
    { type: 'text-end', id: 'text-2' },
    { type: 'finish-step' },
    { type: 'finish', finishReason: 'stop', messageMetadata: { agent_name: 'Forecaster' } },
  ]);
});

it('asks for approvals, then continues the same message after the decisions, a rejection as a denial', async () => {
  const approvals = [
    { call_id: 'c1', tool_name: 'delete_task', arguments: '{}', agent_name: 'Triage' },
    { call_id: 'c2', tool_name: 'delete_task', arguments: '{}', agent_name: 'Triage' },
  ];
  const chunks = await mapAll([
    { event: 'run.started', data: ids },
    { event: 'tool.called', data: { name: 'delete_task', arguments: '{}', call_id: 'c1' } },
    { event: 'tool.called', data: { name: 'delete_task', arguments: '{}', call_id: 'c2' } },
    { event: 'run.awaiting_approval', data: { status: 'awaiting_approval', final_output: null, ...ids, usage, approvals } },
    { event: 'run.resumed', data: { ...ids, decisions: [{ call_id: 'c1', approved: true }, { call_id: 'c2', approved: false }] } },
    { event: 'tool.output', data: { call_id: 'c1', output: 'deleted' } },
    { event: 'tool.output', data: { call_id: 'c2', output: 'Tool execution was not approved.' } },
  ]);
  expect(chunks.filter((chunk) => chunk.type === 'start')).toHaveLength(1);
  expect(chunks).toContainEqual({ type: 'tool-approval-request', approvalId: 'c1', toolCallId: 'c1' });
  expect(chunks).toContainEqual({ type: 'tool-approval-request', approvalId: 'c2', toolCallId: 'c2' });
  expect(chunks).toContainEqual({ type: 'finish', finishReason: 'tool-calls', messageMetadata: { agent_name: 'Triage' } });
  expect(chunks).toContainEqual({ type: 'tool-output-available', toolCallId: 'c1', output: 'deleted' });
  expect(chunks).toContainEqual({ type: 'tool-output-denied', toolCallId: 'c2' });
});

it('marks a tool that threw as an output error, a failed run with an error part, a cancelled one with abort', async () => {
  const failed = await mapAll([
    { event: 'run.started', data: ids },
    { event: 'tool.called', data: { name: 'flaky', arguments: 'not json', call_id: 'c1' } },
    { event: 'tool.output', data: { call_id: 'c1', output: 'An error occurred while running the tool. Please try again.' } },
    { event: 'run.failed', data: { error: { code: 'model_error', message: 'The model failed.' } } },
  ]);
  expect(failed).toContainEqual({ type: 'tool-input-available', toolCallId: 'c1', toolName: 'flaky', input: 'not json' });
  expect(failed).toContainEqual({ type: 'tool-output-error', toolCallId: 'c1', errorText: 'An error occurred while running the tool. Please try again.' });
  expect(failed.at(-1)).toEqual({ type: 'error', errorText: 'The model failed. (model_error)' });
  const cancelled = await mapAll([
    { event: 'run.started', data: ids },
    { event: 'text.delta', data: { delta: 'Once upon' } },
    { event: 'run.cancelled', data: { error: { code: 'run_cancelled', message: 'The run was cancelled.' } } },
  ]);
  expect(cancelled.slice(-3)).toEqual([{ type: 'text-end', id: 'text-1' }, { type: 'finish-step' }, { type: 'abort' }]);
});

it('turns a stored history into UIMessages: one per user message, one per run that answered', () => {
  const stored = (position: number, item: object, runId: string | null, agentName: string | null = 'Finder'): StoredItem => ({
    position,
    item: item as never,
    runId,
    agentName,
    createdAt: new Date(0),
  });
  const items = [
    stored(1, { type: 'function_call_result', callId: 'orphan', name: 'x', status: 'completed', output: 'cut off' }, 'old'),
    stored(2, { role: 'user', content: 'Find x.' }, 'r1'),
    stored(3, { type: 'function_call', callId: 'c1', name: 'lookup', arguments: '{"q":"x"}' }, 'r1'),
    stored(4, { type: 'function_call_result', callId: 'c1', name: 'lookup', status: 'completed', output: { type: 'text', text: 'found x' } }, 'r1'),
    stored(5, { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Found x.' }] }, 'r1'),
    stored(6, { role: 'user', content: [{ type: 'input_text', text: 'Delete it.' }] }, 'r2'),
    stored(7, { type: 'function_call', callId: 'c2', name: 'transfer_to_Janitor', arguments: '{}' }, 'r2'),
    stored(8, { type: 'function_call_result', callId: 'c2', name: 'transfer_to_Janitor', status: 'completed', output: '{}' }, 'r2'),
    stored(9, { type: 'function_call', callId: 'c3', name: 'delete', arguments: '{}' }, 'r2', 'Janitor'),
  ];
  expect(toUiMessages(items, { approvals: [{ call_id: 'c3', tool_name: 'delete', arguments: '{}', agent_name: 'Janitor' }] })).toEqual([
    { id: 'user-2', role: 'user', parts: [{ type: 'text', text: 'Find x.', state: 'done' }] },
    {
      id: 'r1',
      role: 'assistant',
      metadata: { run_id: 'r1', agent_name: 'Finder' },
      parts: [
        { type: 'step-start' },
        { type: 'tool-lookup', toolCallId: 'c1', state: 'output-available', input: { q: 'x' }, output: 'found x' },
        { type: 'step-start' },
        { type: 'text', text: 'Found x.', state: 'done' },
      ],
    },
    { id: 'user-6', role: 'user', parts: [{ type: 'text', text: 'Delete it.', state: 'done' }] },
    {
      id: 'r2',
      role: 'assistant',
      metadata: { run_id: 'r2', agent_name: 'Janitor' },
      parts: [{ type: 'step-start' }, { type: 'tool-delete', toolCallId: 'c3', state: 'approval-requested', input: {}, approval: { id: 'c3' } }],
    },
  ]);
});
