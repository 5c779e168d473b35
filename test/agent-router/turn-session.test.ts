import type { AgentInputItem } from '@openai/agents';
import { expect, it } from 'vitest';
import { trimToTurnBoundary } from '../../src/agent-router/turn-session.js';

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
const assistant = (text: string): AgentInputItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const call = (id: string): AgentInputItem => ({ type: 'function_call', callId: id, name: 'f', arguments: '{}' });
const result = (id: string): AgentInputItem => ({
  type: 'function_call_result',
  callId: id,
  name: 'f',
  status: 'completed',
  output: 'x',
});

it('starts a cut history at the first user message in the window', () => {
  expect(trimToTurnBoundary([result('a'), assistant('1'), user('two'), assistant('2')])).toEqual([user('two'), assistant('2')]);
  expect(trimToTurnBoundary([call('a'), result('a'), user('two')])).toEqual([user('two')]);
});

it('never starts with a tool result whose call was cut off, even inside one long turn', () => {
  expect(trimToTurnBoundary([result('a'), call('b'), result('b'), assistant('1')])).toEqual([call('b'), result('b'), assistant('1')]);
  expect(trimToTurnBoundary([result('a'), result('b')])).toEqual([]);
  expect(trimToTurnBoundary([call('a'), result('a'), assistant('1')])).toEqual([call('a'), result('a'), assistant('1')]);
});

it('leaves a window that already starts a turn alone', () => {
  const items = [user('one'), call('a'), result('a'), assistant('1')];
  expect(trimToTurnBoundary(items)).toEqual(items);
  expect(trimToTurnBoundary([])).toEqual([]);
});
