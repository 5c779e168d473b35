import type { AgentInputItem } from '@openai/agents';
import { InvalidArgumentError } from '../errors.js';

/**
 * The part of a chat's history the model is sent when a router has a `historyLimit`.
 *
 * The window is a suffix of the history (the newest item is always in it) that starts at a cut
 * point where nothing is torn apart:
 *
 * - **Calls and their outputs.** Every output in the window has its call in the window, and every
 *   call whose output exists has it there too. Pairs, by kind and call id (`callId`, or
 *   `call_id` where the SDK keeps that spelling): `function_call` / `function_call_result` (tool
 *   calls and handoffs, which the SDK stores as a `transfer_to_...` function call),
 *   `computer_call` / `computer_call_result`, `shell_call` / `shell_call_output` (a local shell
 *   tool's calls too: the 0.20 protocol has no separate local shell item), `apply_patch_call` /
 *   `apply_patch_call_output`, `program` / `program_output`, client-run `tool_search_call` /
 *   `tool_search_output`, and the hosted MCP approval request / response (two
 *   `hosted_tool_call`s, by the request's id). An item a program ran (`caller.type: "program"`)
 *   stays with its program call. Other hosted tool calls carry their own output and pair with
 *   nothing. A call whose output is nowhere in the history (an approval still pending, a run
 *   cut short) constrains no cut: the 0.20 runner leaves such calls out of the model input
 *   itself (`dropOrphanToolCalls` on the session history).
 * - **Reasoning.** A reasoning item belongs to what the model produced after it in the same
 *   response: the reasoning, assistant-message and tool-call items that follow it, up to the
 *   next tool output, user or system message, or compaction. The window never starts inside that
 *   group, so no item reaches the model without the reasoning that preceded it, and no reasoning
 *   item without the items it led to (unless it is the newest item, and nothing follows it).
 *
 * Among those cut points, the window starts at:
 *
 * 1. the oldest turn start among the newest `limit` items: a user or system message, or the
 *    first item of the history (whole turns, which providers that want a conversation to open
 *    with a user turn need; a history that fits in the limit is sent whole);
 * 2. if no turn start can (the newest turn alone is longer than the limit), the oldest cut point
 *    among the newest `limit` items, mid-turn;
 * 3. if there is none, the newest cut point before them: the shortest window that tears nothing
 *    apart, longer than the limit but never empty. (Not the whole newest turn, which can be far
 *    longer: the limit is exceeded by as little as possible.)
 *
 * Only a history holding an output whose call it does not hold at all can have no cut point;
 * such an output can never be paired, so then it is let through as it is.
 *
 * Histories are taken in the order the SDK writes them, each output after its call: an output
 * stored before its call counts as one without a call.
 */
export function historyWindow(history: readonly AgentInputItem[], limit: number): AgentInputItem[] {
  assertLimit(limit);
  return history.slice(windowStart(history, limit, true));
}

/**
 * Reads the window from the newest items of a history, `read(count)` returning the newest
 * `count` items, oldest first (as `Session.getItems(count)` does).
 *
 * Whether the window may start at an item depends on the items after it (their calls) and on
 * the items just before it (an open reasoning group), so the first read takes `limit + 1` items:
 * the newest `limit`, where the window almost always starts, and the one before them. Only when
 * those items cannot settle it (no cut point among the newest `limit`, or a reasoning group
 * running past the oldest item read) is the read doubled, until they can or the whole history
 * has been read. The result is always `historyWindow` of the whole history.
 */
export async function readHistoryWindow(
  read: (count: number) => Promise<AgentInputItem[]>,
  limit: number,
): Promise<AgentInputItem[]> {
  assertLimit(limit);
  for (let count = limit + 1; ; count *= 2) {
    const items = await read(count);
    const start = windowStart(items, limit, items.length < count);
    if (start !== undefined) return items.slice(start);
  }
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`The history limit must be a positive integer, got ${String(limit)}.`);
  }
}

/** Can the window start at this item: yes, no, or not known from the items read. */
type Cut = boolean | undefined;

/**
 * Where the window starts in `items`, the newest items of a history (`complete` when they are
 * all of it), or `undefined` when that cannot be known without older items.
 */
function windowStart(items: readonly AgentInputItem[], limit: number, complete: boolean): number | undefined {
  if (items.length === 0) return 0;
  const links = items.map(linksOf);
  const start = pickStart(items, cutPoints(links, complete), limit, complete);
  if (typeof start === 'number') return start;
  if (start === 'unknown' || !complete) return undefined;
  // No cut point in the whole history: some output's call is not in it at all. Nothing can pair
  // that output, so it stops holding the window back.
  return pickStart(items, cutPoints(links, true, unpairable(links)), limit, true) as number;
}

function pickStart(
  items: readonly AgentInputItem[],
  cuts: readonly Cut[],
  limit: number,
  complete: boolean,
): number | 'unknown' | 'none' {
  const first = Math.max(0, cuts.length - limit);
  // Whole turns first. An input message is never inside a reasoning group, so these cuts are
  // always known; the start of the whole history is a turn start too.
  for (let i = first; i < cuts.length; i++) {
    if (cuts[i] === true && ((i === 0 && complete) || isInputMessage(items[i]!))) return i;
  }
  for (let i = first; i < cuts.length; i++) {
    if (cuts[i] !== false) return cuts[i] === true ? i : 'unknown';
  }
  for (let i = first - 1; i >= 0; i--) {
    if (cuts[i] !== false) return cuts[i] === true ? i : 'unknown';
  }
  return 'none';
}

/** For each index, whether the window may start there. */
function cutPoints(links: readonly ItemLinks[], complete: boolean, ignored?: ReadonlySet<string>): Cut[] {
  const cuts: Cut[] = new Array<Cut>(links.length);
  // Newest first: the calls that the items from i on still wait for.
  const waiting = new Set<string>();
  for (let i = links.length - 1; i >= 0; i--) {
    for (const key of links[i]!.calls) waiting.delete(key);
    for (const key of links[i]!.needs) if (!ignored?.has(`${i} ${key}`)) waiting.add(key);
    cuts[i] = waiting.size === 0;
  }
  // Oldest first: whether a reasoning group is open before item i. Before the oldest item read,
  // that is unknown unless the items are the whole history.
  let group: boolean | undefined = complete ? false : undefined;
  for (let i = 0; i < links.length; i++) {
    const { role } = links[i]!;
    if (cuts[i] && role !== 'boundary') cuts[i] = group === undefined ? undefined : !group;
    if (role === 'reasoning') group = true;
    else if (role === 'boundary') group = false;
  }
  return cuts;
}

/** The needs (as `index key`) no earlier item of the history can meet. */
function unpairable(links: readonly ItemLinks[]): Set<string> {
  const seen = new Set<string>();
  const result = new Set<string>();
  links.forEach((link, i) => {
    for (const key of link.needs) if (!seen.has(key)) result.add(`${i} ${key}`);
    for (const key of link.calls) seen.add(key);
  });
  return result;
}

interface ItemLinks {
  /** Keys of the calls this item is: later items needing one of these keys are met by it. */
  calls: string[];
  /** Keys of the calls this item answers or belongs to, which must come before it. */
  needs: string[];
  /**
   * `reasoning` opens a group, `model` (what a model response holds besides reasoning) continues
   * one, `boundary` (input messages, tool outputs, compaction) ends it.
   */
  role: 'reasoning' | 'model' | 'boundary';
}

/** Call item types, and output item types, by the kind of call they share a key for. */
const CALLS = new Map<unknown, string>([
  ['function_call', 'function'],
  ['computer_call', 'computer'],
  ['shell_call', 'shell'],
  ['apply_patch_call', 'apply_patch'],
  ['program', 'program'],
]);
const OUTPUTS = new Map<unknown, string>([
  ['function_call_result', 'function'],
  ['computer_call_result', 'computer'],
  ['shell_call_output', 'shell'],
  ['apply_patch_call_output', 'apply_patch'],
  ['program_output', 'program'],
]);

// Tool search outputs without a call id answer the pending search; every client search call
// also meets this key, so such an output needs some search call before it.
const ANY_TOOL_SEARCH = 'tool_search';

function linksOf(item: AgentInputItem): ItemLinks {
  const record = item as unknown as Record<string, unknown>;
  if (typeof record.role === 'string') {
    return { calls: [], needs: [], role: record.role === 'assistant' ? 'model' : 'boundary' };
  }
  const type = record.type;
  const links: ItemLinks = { calls: [], needs: [], role: 'model' };
  if (type === 'reasoning') links.role = 'reasoning';
  else if (type === 'compaction') links.role = 'boundary';
  else if (CALLS.has(type)) {
    if (typeof record.callId === 'string') links.calls.push(`${CALLS.get(type)}:${record.callId}`);
  } else if (OUTPUTS.has(type)) {
    links.role = 'boundary';
    if (typeof record.callId === 'string') links.needs.push(`${OUTPUTS.get(type)}:${record.callId}`);
  } else if (type === 'tool_search_call' || type === 'tool_search_output') {
    if (toolSearchExecution(record) !== 'server') {
      const id = toolSearchCallId(record);
      if (type === 'tool_search_call') {
        // A call without a call id is answered under its item id.
        const key = id ?? (typeof record.id === 'string' && record.id !== '' ? record.id : undefined);
        links.calls.push(ANY_TOOL_SEARCH);
        if (key !== undefined) links.calls.push(`${ANY_TOOL_SEARCH}:${key}`);
      } else {
        links.role = 'boundary';
        links.needs.push(id === undefined ? ANY_TOOL_SEARCH : `${ANY_TOOL_SEARCH}:${id}`);
      }
    }
  } else if (type === 'hosted_tool_call') {
    const data = asRecord(record.providerData);
    const is = (kind: string) => record.name === kind || data?.type === kind;
    if (is('mcp_approval_request')) {
      const id = data?.id ?? record.id;
      if (typeof id === 'string') links.calls.push(`mcp_approval:${id}`);
    } else if (is('mcp_approval_response')) {
      links.role = 'boundary';
      const id = data?.approval_request_id ?? data?.approvalRequestId;
      if (typeof id === 'string') links.needs.push(`mcp_approval:${id}`);
    }
  }
  const caller = asRecord(record.caller);
  if (caller?.type === 'program' && typeof caller.callerId === 'string') links.needs.push(`program:${caller.callerId}`);
  return links;
}

function toolSearchExecution(record: Record<string, unknown>): unknown {
  return record.execution ?? asRecord(record.providerData)?.execution;
}

function toolSearchCallId(record: Record<string, unknown>): string | undefined {
  const data = asRecord(record.providerData);
  for (const id of [data?.call_id, data?.callId, record.call_id, record.callId]) {
    if (typeof id === 'string' && id !== '') return id;
  }
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

/** A user or system message: where a turn starts. */
function isInputMessage(item: AgentInputItem): boolean {
  return 'role' in item && item.role !== 'assistant';
}

/**
 * The items less every call whose output is not among them: what a run cut short (cancelled
 * mid-way) may store, so that the history never holds a call without its output.
 */
export function withoutUnansweredCalls(items: readonly AgentInputItem[]): AgentInputItem[] {
  const answered = new Set(items.flatMap((item) => linksOf(item).needs));
  return items.filter((item) => linksOf(item).calls.every((key) => key === ANY_TOOL_SEARCH || answered.has(key)));
}
