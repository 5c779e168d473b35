import { parseEvents } from '../helpers/agents.js';
import type { ClientOutcome } from './consistency.js';

export interface CallOutcome extends ClientOutcome {
  /** The error code answered (or sent in run.failed), if any. */
  code?: string;
  /** How long the client waited. */
  ms: number;
}

/** The HTTP status a `run.failed` event's code stands for, to count both endpoints alike. */
const STATUS_OF: Record<string, number> = {
  session_busy: 409,
  lease_lost: 409,
  database_unavailable: 503,
  shutting_down: 503,
  chat_not_found: 404,
  internal_error: 500,
  model_error: 502,
};

/**
 * One `/run` or `/stream` call as a client sees it. A call that does not answer within
 * `timeoutMs` counts as hung (status -1); a dropped connection as status 0.
 */
export async function call(
  baseUrl: string,
  kind: 'run' | 'stream',
  body: { input: string; session_id: string },
  userId = 'alice',
  timeoutMs = 20_000,
): Promise<CallOutcome> {
  const started = performance.now();
  const outcome = (status: number, extra: Partial<CallOutcome> = {}): CallOutcome => ({
    sessionId: body.session_id,
    input: body.input,
    status,
    ms: performance.now() - started,
    ...extra,
  });
  try {
    const response = await fetch(`${baseUrl}/bard/${kind}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': userId },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const json = JSON.parse(text);
      return outcome(response.status, json.success ? { runId: json.run_id } : { code: json.error?.code });
    }
    const events = parseEvents(text);
    const last = events.at(-1);
    if (last?.event === 'run.completed') return outcome(200, { runId: last.data.run_id });
    if (last?.event === 'run.failed') {
      return outcome(STATUS_OF[last.data.error.code] ?? 500, { code: last.data.error.code });
    }
    return outcome(0, { code: 'stream_cut' });
  } catch (error) {
    const hung = (error as Error).name === 'TimeoutError';
    return outcome(hung ? -1 : 0, { code: hung ? 'hung' : 'network' });
  }
}

/** Counts outcomes by status. */
export function tally(outcomes: { status: number }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status } of outcomes) counts[String(status)] = (counts[String(status)] ?? 0) + 1;
  return counts;
}
