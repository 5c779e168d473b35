import { sql, type Kysely } from 'kysely';
import type { ExpectedItem, Turn } from './virtual-user.js';

export interface HistoryReport {
  turnsChecked: number;
  /** Items a client was promised (its turn ended as it saw) that the chat does not hold as such. */
  itemsLost: number;
  /** Stored items that belong to no turn a client saw end. */
  itemsUnexpected: number;
  /** Chats whose turns are not stored in the order their user made them. */
  chatsOutOfOrder: number;
  /** Tool calls without their output, or outputs without their call. */
  brokenToolCalls: number;
  /** Chats whose item_count is not the number of items they hold. */
  counterMismatches: number;
}

interface StoredItem {
  session_id: string;
  position: number;
  run_id: string | null;
  item: any;
}

/**
 * Compares every chat, item by item, with what its user saw: each user works on a chat of their
 * own, one turn at a time, so a chat must hold exactly the turns its user recorded, in order.
 */
export async function checkHistories(db: Kysely<any>, turns: Turn[]): Promise<HistoryReport> {
  const report: HistoryReport = {
    turnsChecked: turns.length,
    itemsLost: 0,
    itemsUnexpected: 0,
    chatsOutOfOrder: 0,
    brokenToolCalls: 0,
    counterMismatches: 0,
  };
  const items = (await db
    .selectFrom('agent_items')
    .select(['session_id', 'position', 'run_id', 'item'])
    .orderBy('session_id')
    .orderBy('position')
    .execute()) as StoredItem[];
  const byChat = groupBy(items, (item) => item.session_id);
  const turnsByChat = groupBy(turns, (turn) => turn.chatId);
  for (const chatId of new Set([...byChat.keys(), ...turnsByChat.keys()])) {
    const stored = byChat.get(chatId) ?? [];
    const chatTurns = turnsByChat.get(chatId) ?? [];
    const byRun = groupBy(stored, (item) => item.run_id ?? '');
    for (const turn of chatTurns) {
      const got = byRun.get(turn.runId) ?? [];
      byRun.delete(turn.runId);
      report.itemsLost += turn.expected.filter((expected, index) => !matches(expected, got[index]?.item)).length;
      report.itemsUnexpected += Math.max(0, got.length - turn.expected.length);
    }
    for (const rest of byRun.values()) report.itemsUnexpected += rest.length;
    const runOrder = [...new Set(stored.map((item) => item.run_id))];
    const turnOrder = chatTurns.map((turn) => turn.runId);
    if (!isDeepEqual(runOrder.filter((id) => turnOrder.includes(id!)), turnOrder.filter((id) => runOrder.includes(id)))) {
      report.chatsOutOfOrder++;
    }
    report.brokenToolCalls += brokenToolCalls(stored.map((item) => item.item));
  }
  const { rows } = await sql<{ mismatches: string }>`
    SELECT count(*) AS mismatches FROM agent_chats chat
    WHERE chat.item_count <> (SELECT count(*) FROM agent_items item WHERE item.session_id = chat.id)
  `.execute(db);
  report.counterMismatches = Number(rows[0]!.mismatches);
  return report;
}

function matches(expected: ExpectedItem, item: any): boolean {
  if (!item) return false;
  switch (expected.kind) {
    case 'user':
    case 'assistant':
      return item.role === expected.kind && text(item.content) === expected.text;
    case 'function_call':
    case 'function_call_result':
      return item.type === expected.kind && item.callId === expected.callId;
  }
}

function text(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
  return undefined;
}

/** Calls with no output after them, plus outputs with no call before them. */
function brokenToolCalls(items: any[]): number {
  const open = new Set<string>();
  let broken = 0;
  for (const item of items) {
    if (item.type === 'function_call') open.add(item.callId);
    else if (item.type === 'function_call_result' && !open.delete(item.callId)) broken++;
  }
  return broken + open.size;
}

const isDeepEqual = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((value, index) => value === b[index]);

/** `Map.groupBy`, which Node 20 lacks. */
function groupBy<T, K>(values: T[], key: (value: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const value of values) {
    const group = groups.get(key(value));
    if (group) group.push(value);
    else groups.set(key(value), [value]);
  }
  return groups;
}
