import type { SseEvent } from '../helpers/agents.js';
import { EventStreamClient, isTerminal } from '../helpers/event-stream-client.js';

/** The user every run-fault test acts as. */
export const alice = { 'x-user-id': 'alice' };

/** POSTs JSON as alice; the status and the parsed body (or null for an empty or non-JSON one). */
export async function post(url: string, body: unknown): Promise<{ status: number; type: string; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...alice, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: parsed };
}

/** A waiting janitor run: its chat, its id and the call that waits. */
export async function waitingRun(url: string, task: string): Promise<{ chatId: string; runId: string; callId: string }> {
  const { status, body } = await post(`${url}/janitor/run`, { input: task });
  if (status !== 200 || body.status !== 'awaiting_approval') throw new Error(`no waiting run: ${status} ${JSON.stringify(body)}`);
  return { chatId: body.session_id, runId: body.run_id, callId: body.approvals[0].call_id };
}

/** What one follower got: its events, and whether it ended on a terminal event in time. */
export interface Followed {
  events: SseEvent[];
  /** It reached no end within the time given. */
  hung: boolean;
}

/** Reads a follower to its end, or gives up (hung) after `timeoutMs`. */
export async function followToTheEnd(client: EventStreamClient, seen: SseEvent[] = [], timeoutMs = 60_000): Promise<Followed> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
  const rest = client.rest();
  const result = await Promise.race([rest, timeout]);
  clearTimeout(timer);
  if (result === 'hung') {
    client.close();
    return { events: [...seen, ...(await rest)], hung: true };
  }
  return { events: [...seen, ...result], hung: false };
}

/** Ids that are not 1, 2, 3... in order: each gap or repeat counted once. */
export function idFaults(events: readonly SseEvent[], firstId = 1): { gaps: number; duplicates: number } {
  let gaps = 0;
  let duplicates = 0;
  let expected = firstId;
  for (const { id } of events) {
    if (id < expected) duplicates++;
    else if (id > expected) gaps++;
    expected = Math.max(expected, id + 1);
  }
  return { gaps, duplicates };
}

/** Exactly one terminal event, and it is the last. */
export function endsOnce(events: readonly SseEvent[]): boolean {
  return events.filter(isTerminal).length === 1 && isTerminal(events.at(-1)!);
}
