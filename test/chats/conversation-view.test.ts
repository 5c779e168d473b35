import type { AgentInputItem } from '@openai/agents';
import { expect, it } from 'vitest';
import type { StoredItem } from '../../src/chats/chat-store.js';
import { toConversation } from '../../src/chats/conversation-view.js';
import { everyKindOfItem } from '../fixtures/items.js';

const at = new Date('2026-11-21T10:00:00.000Z');
const stored = (item: AgentInputItem, agentName: string | null = 'Bard', position = 1): StoredItem => ({
  position,
  item,
  agentName,
  runId: null,
  createdAt: at,
});

it('turns every kind of stored item into readable lines', () => {
  const lines = toConversation(everyKindOfItem.map((item, i) => stored(item, i % 2 ? 'Sage' : null, i + 1)));
  expect(lines.map(({ role, content }) => [role, content])).toEqual([
    ['user', 'plain user text'],
    ['user', 'user text with type "message"'],
    ['user', 'look at this[image]'],
    // the system message and the reasoning item are not part of the readable conversation
    ['assistant', 'Hello! 😀 𝄞 — \u2028 line separator'],
    ['tool', 'Called get_weather({"city":"Zürich"})'],
    ['tool', 'get_weather returned: sunny, 21°C'],
    ['tool', 'Handed off to world builder'],
    ['tool', 'Used web_search_call'],
    ['user', 'nul \u0000 inside, and at the end \u0000'],
    ['user', 'lone surrogates \ud800 and \udfff'],
    ['user', 'literal backslash-u: \\u0000 and a quote " and a tab \t'],
  ]);
  expect(lines[0]).toEqual({ role: 'user', content: 'plain user text', agent_name: null, created_at: '2026-11-21T10:00:00.000Z' });
});

it('joins text parts and cuts long tool output in the view only', () => {
  const long = 'x'.repeat(5000);
  const lines = toConversation([
    stored({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'a' }, { type: 'refusal', refusal: 'b' }] }),
    stored({ type: 'function_call_result', callId: 'c', name: 'dump', status: 'completed', output: long }),
    stored({ type: 'function_call_result', callId: 'd', name: 'json', status: 'completed', output: [{ type: 'input_text', text: 'p1' }, { type: 'input_text', text: 'p2' }] }),
  ]);
  expect(lines[0]!.content).toBe('ab');
  expect(lines[1]!.content).toBe(`dump returned: ${'x'.repeat(1000)}…`);
  expect(lines[2]!.content).toBe('json returned: p1p2');
});
