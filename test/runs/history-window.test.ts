import { protocol, type AgentInputItem } from '@openai/agents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { historyWindow, readHistoryWindow } from '../../src/runs/history-window.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { brokenPromises, expectedStart, historyArbitrary } from '../fixtures/histories.js';

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
const system = (text: string): AgentInputItem => ({ role: 'system', content: text });
const assistant = (text: string): AgentInputItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const call = (id: string, name = 'f'): AgentInputItem => ({ type: 'function_call', callId: id, name, arguments: '{}' });
const result = (id: string, name = 'f'): AgentInputItem => ({
  type: 'function_call_result',
  callId: id,
  name,
  status: 'completed',
  output: 'x',
});
const reasoning = (id: string): AgentInputItem => ({ type: 'reasoning', id, content: [] });
const webSearch: AgentInputItem = { type: 'hosted_tool_call', id: 'ws_1', name: 'web_search_call', status: 'completed' };

/** Each kind of call with its output, as the SDK stores them. */
const pairsOfEveryKind: [string, AgentInputItem, AgentInputItem][] = [
  ['function call', call('c'), result('c')],
  ['handoff', call('c', 'transfer_to_helper'), result('c', 'transfer_to_helper')],
  [
    'computer call',
    { type: 'computer_call', callId: 'c', status: 'completed', action: { type: 'screenshot' } },
    { type: 'computer_call_result', callId: 'c', output: { type: 'computer_screenshot', data: 'x' } },
  ],
  [
    'shell call',
    { type: 'shell_call', callId: 'c', status: 'completed', action: { commands: ['ls'] } },
    { type: 'shell_call_output', callId: 'c', output: [{ stdout: '', stderr: '', outcome: { type: 'exit', exitCode: 0 } }] },
  ],
  [
    'apply_patch call',
    { type: 'apply_patch_call', callId: 'c', status: 'completed', operation: { type: 'delete_file', path: 'a' } },
    { type: 'apply_patch_call_output', callId: 'c', status: 'completed' },
  ],
  [
    'program call',
    { type: 'program', callId: 'c', code: 'f()', fingerprint: 'x' },
    { type: 'program_output', callId: 'c', output: '1', status: 'completed' },
  ],
  [
    'client tool search (call_id)',
    { type: 'tool_search_call', call_id: 'c', execution: 'client', arguments: {} },
    { type: 'tool_search_output', call_id: 'c', execution: 'client', tools: [] },
  ],
  [
    'client tool search (callId)',
    { type: 'tool_search_call', callId: 'c', execution: 'client', arguments: {} },
    { type: 'tool_search_output', callId: 'c', execution: 'client', tools: [] },
  ],
  [
    'hosted MCP approval',
    { type: 'hosted_tool_call', id: 'r', name: 'mcp_approval_request', providerData: { type: 'mcp_approval_request', id: 'r' } },
    { type: 'hosted_tool_call', name: 'mcp_approval_response', providerData: { type: 'mcp_approval_response', approval_request_id: 'r', approve: true } },
  ],
];

describe('historyWindow', () => {
  it('keeps parallel calls with their results: limit 4 on call A, call B, result A, result B, message', () => {
    const history = [call('A'), call('B'), result('A'), result('B'), assistant('done')];
    // The newest 4 items hold result A without call A; only the message alone is whole.
    expect(historyWindow(history, 4)).toEqual([assistant('done')]);
    expect(historyWindow(history, 5)).toEqual(history);
    expect(historyWindow([user('go'), ...history], 4)).toEqual([assistant('done')]);
    expect(historyWindow([user('go'), ...history], 5)).toEqual(history);
  });

  it.each(pairsOfEveryKind)('never separates a %s from its output', (_kind, callItem, output) => {
    expect(protocol.ModelItem.safeParse(callItem).success).toBe(true);
    expect(protocol.ModelItem.safeParse(output).success).toBe(true);
    const history = [user('go'), callItem, output, assistant('done')];
    expect(historyWindow(history, 2)).toEqual([assistant('done')]);
    expect(historyWindow(history, 3)).toEqual([callItem, output, assistant('done')]);
    // A history ending with the output: the call comes along, over the limit.
    expect(historyWindow(history.slice(0, 3), 1)).toEqual([callItem, output]);
  });

  it('pairs nothing with a hosted tool call that carries its own output, or a server-run tool search', () => {
    const search: AgentInputItem = { type: 'tool_search_call', call_id: 's', execution: 'server', arguments: {} };
    const found: AgentInputItem = { type: 'tool_search_output', call_id: 's', execution: 'server', tools: [] };
    expect(historyWindow([user('go'), webSearch, assistant('done')], 2)).toEqual([webSearch, assistant('done')]);
    expect(historyWindow([user('go'), search, found, assistant('done')], 2)).toEqual([found, assistant('done')]);
  });

  it('keeps the items a program ran with the program call', () => {
    const caller = { type: 'program' as const, callerId: 'p' };
    const history: AgentInputItem[] = [
      user('go'),
      { type: 'program', callId: 'p', code: 'f()', fingerprint: 'x' },
      { ...call('q'), caller } as AgentInputItem,
      { ...result('q'), caller } as AgentInputItem,
      { type: 'program_output', callId: 'p', output: '1', status: 'completed' },
      assistant('done'),
    ];
    // From the program's own function call on, every item needs the program call.
    expect(historyWindow(history, 4)).toEqual([assistant('done')]);
    expect(historyWindow(history, 5)).toEqual(history.slice(1));
  });

  it('pairs a tool search output without a call id with the search before it', () => {
    const search: AgentInputItem = { type: 'tool_search_call', id: 'ts_1', execution: 'client', arguments: {} };
    const found: AgentInputItem = { type: 'tool_search_output', execution: 'client', tools: [] };
    expect(historyWindow([user('go'), search, found, assistant('done')], 2)).toEqual([assistant('done')]);
    expect(historyWindow([user('go'), search, found], 1)).toEqual([search, found]);
  });

  it('pairs by kind and id, nearest call first, so an id reused by a later turn does not chain turns', () => {
    const history = [call('c1'), result('c1'), assistant('one'), call('c1'), result('c1'), assistant('two')];
    expect(historyWindow(history, 3)).toEqual(history.slice(3));
    // A computer call with the same id as a function call is not its partner.
    const computer: AgentInputItem = { type: 'computer_call_result', callId: 'c1', output: { type: 'computer_screenshot', data: 'x' } };
    expect(historyWindow([call('c1'), computer, assistant('done')], 2)).toEqual([assistant('done')]);
  });

  it('never starts after a reasoning item inside the response it began', () => {
    // Pairs alone would allow [call A, result A, answer]: the call without its reasoning.
    const history = [user('go'), reasoning('rs'), call('A'), result('A'), assistant('done')];
    expect(historyWindow(history, 3)).toEqual([assistant('done')]);
    expect(historyWindow(history, 4)).toEqual(history.slice(1));
    // The whole response stays together, text and further reasoning included.
    const long = [user('go'), reasoning('rs1'), assistant('let me look'), reasoning('rs2'), call('A'), result('A'), assistant('done')];
    expect(historyWindow(long, 5)).toEqual([assistant('done')]);
    expect(historyWindow(long, 6)).toEqual(long.slice(1));
    // A newest response alone longer than the limit comes whole, its reasoning first.
    expect(historyWindow([user('go'), reasoning('rs1'), reasoning('rs2'), assistant('done')], 2)).toEqual([
      reasoning('rs1'),
      reasoning('rs2'),
      assistant('done'),
    ]);
    // A tool output ends the response: the next response has no reasoning to lose.
    expect(historyWindow([user('go'), reasoning('rs'), call('A'), result('A'), webSearch, assistant('done')], 2)).toEqual([
      webSearch,
      assistant('done'),
    ]);
  });

  it('keeps a reasoning item that is the newest item, with nothing after it', () => {
    expect(historyWindow([user('go'), assistant('hm'), reasoning('rs')], 1)).toEqual([reasoning('rs')]);
  });

  it('starts at the oldest turn start that fits, and sends a history that fits whole', () => {
    expect(historyWindow([user('one'), assistant('1'), user('two'), assistant('2')], 3)).toEqual([user('two'), assistant('2')]);
    expect(historyWindow([system('Be brief.'), user('one'), assistant('1'), user('two')], 3)).toEqual([user('one'), assistant('1'), user('two')]);
    expect(historyWindow([system('Be brief.'), assistant('hello'), user('one')], 3)).toEqual([system('Be brief.'), assistant('hello'), user('one')]);
    expect(historyWindow([assistant('hello'), user('one')], 5)).toEqual([assistant('hello'), user('one')]);
    expect(historyWindow([], 3)).toEqual([]);
  });

  it('cuts mid-turn within the limit when the newest turn alone is longer', () => {
    const history = [user('go'), call('A'), result('A'), call('B'), result('B'), assistant('done')];
    expect(historyWindow(history, 5)).toEqual(history.slice(1));
    expect(historyWindow(history, 3)).toEqual(history.slice(3));
  });

  it('is never empty: over the limit by as little as the pairs allow, not the whole turn', () => {
    // Today's cut sent nothing here (the newest 2 items are both results).
    const pending = [user('go'), call('A'), call('B'), result('A'), result('B')];
    expect(historyWindow(pending, 2)).toEqual(pending.slice(1));
    const sequential = [user('go'), call('A'), result('A'), call('B'), result('B')];
    expect(historyWindow(sequential, 1)).toEqual([call('B'), result('B')]);
  });

  it('lets a call whose output is nowhere in the history (a pending approval) start or end a window', () => {
    expect(historyWindow([user('one'), assistant('1'), user('two'), call('P')], 1)).toEqual([call('P')]);
    expect(historyWindow([user('one'), call('P'), user('two'), assistant('2')], 3)).toEqual([user('two'), assistant('2')]);
    expect(historyWindow([user('one'), call('P'), call('A'), result('A')], 3)).toEqual([call('P'), call('A'), result('A')]);
  });

  it('drops an output whose call is nowhere in the history, and lets it through only when it is the newest', () => {
    expect(historyWindow([user('one'), assistant('1'), result('X'), assistant('2')], 4)).toEqual([assistant('2')]);
    // No cut point leaves it out: it cannot be paired, so it no longer holds the window back.
    expect(historyWindow([user('one'), assistant('1'), call('A'), result('A'), result('X')], 3)).toEqual([call('A'), result('A'), result('X')]);
    expect(historyWindow([user('one'), result('X')], 5)).toEqual([user('one'), result('X')]);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      expect(() => historyWindow([user('one')], limit)).toThrow(InvalidArgumentError);
    }
  });
});

describe('readHistoryWindow', () => {
  /** A reader over an in-memory history that records how many items each read asked for. */
  const reader = (history: AgentInputItem[]) => {
    const counts: number[] = [];
    const read = async (count: number) => {
      counts.push(count);
      return history.slice(Math.max(0, history.length - count));
    };
    return { read, counts };
  };

  it('reads limit + 1 items when the window starts among them', async () => {
    const history = [user('one'), assistant('1'), call('A'), call('B'), result('A'), result('B'), assistant('done')];
    const { read, counts } = reader(history);
    expect(await readHistoryWindow(read, 4)).toEqual([assistant('done')]);
    expect(counts).toEqual([5]);
  });

  it('reads further back, doubling, when the newest turn is longer than what it read', async () => {
    const history = [user('one'), assistant('1'), user('go'), call('A'), call('B'), result('A'), result('B')];
    const { read, counts } = reader(history);
    expect(await readHistoryWindow(read, 2)).toEqual(history.slice(3));
    expect(counts).toEqual([3, 6]);
  });

  it('reads further back when a reasoning group runs past the oldest item read', async () => {
    const history = [user('go'), reasoning('rs'), assistant('a'), webSearch, assistant('b'), assistant('c')];
    const { read, counts } = reader(history);
    // Whether [web search, b, c] may start the window depends on what came before "a".
    expect(await readHistoryWindow(read, 3)).toEqual(history.slice(1));
    expect(counts).toEqual([4, 8]);
  });
});

describe('historyWindow on generated histories', () => {
  const cases = fc.record({ history: historyArbitrary(), limit: fc.integer({ min: 1, max: 25 }) });

  it('generates valid SDK items', () => {
    fc.assert(
      fc.property(historyArbitrary(), (history) => {
        for (const item of history.items) expect(protocol.ModelItem.safeParse(item).success).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every promise: pairs and reasoning whole, a non-empty suffix, as short as it must be', () => {
    fc.assert(
      fc.property(cases, ({ history, limit }) => {
        expect(brokenPromises(history, limit, historyWindow(history.items, limit))).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it('starts where its rule says, found by trying every start', () => {
    fc.assert(
      fc.property(cases, ({ history, limit }) => {
        expect(historyWindow(history.items, limit)).toEqual(history.items.slice(expectedStart(history, limit)));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the same window from the newest items as from the whole history', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ history, limit }) => {
        const read = async (count: number) => history.items.slice(Math.max(0, history.items.length - count));
        expect(await readHistoryWindow(read, limit)).toEqual(historyWindow(history.items, limit));
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a non-empty suffix holding the newest item for any items in any order, read in pieces or whole', async () => {
    const pool = [
      user('u'),
      assistant('a'),
      reasoning('rs'),
      webSearch,
      ...pairsOfEveryKind.flatMap(([, callItem, output]) => [callItem, output]),
      { type: 'compaction', encrypted_content: 'x' } as AgentInputItem,
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...pool), { maxLength: 40 }), fc.integer({ min: 1, max: 10 }), async (items, limit) => {
        const window = historyWindow(items, limit);
        expect(window.length > 0).toBe(items.length > 0);
        expect(window).toEqual(items.slice(items.length - window.length));
        const read = async (count: number) => items.slice(Math.max(0, items.length - count));
        expect(await readHistoryWindow(read, limit)).toEqual(window);
      }),
      { numRuns: 1000 },
    );
  });
});
