import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { SseEvent } from '../test/helpers/agents.js';
import { EventStreamClient, isTerminal } from '../test/helpers/event-stream-client.js';

export type Action = 'run' | 'stream' | 'follow' | 'cancel' | 'approval';

/**
 * A turn as its client saw it end, and what the chat must therefore hold for it: the items
 * stored under its run id, in this order.
 */
export interface Turn {
  action: Action;
  chatId: string;
  runId: string;
  expected: ExpectedItem[];
}

export type ExpectedItem =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; text: string }
  | { kind: 'function_call'; callId: string }
  | { kind: 'function_call_result'; callId: string };

/** What every virtual user shares: the instances, the request budget and what they saw. */
export interface Traffic {
  instances: string[];
  /** The whole answer of the soak's model. */
  answer: string;
  /** Requests sent so far, and the bound. */
  requests: number;
  maxRequests: number;
  deadline: number;
  turns: Turn[];
  /** Answers that were not what the API promises, by kind ("follow: events differ"...). */
  problems: Map<string, number>;
  actions: Record<Action, number>;
  approvals: { approved: number; rejected: number };
  /** Cancels that arrived after the run had finished (409 run_finished): allowed, counted. */
  lateCancels: number;
  /** Cancels answered 202, the run still stopping after the endpoint's wait: allowed, counted. */
  slowCancels: number;
}

const TIMEOUT_MS = 60_000;
const WEIGHTS: [Action, number][] = [
  ['run', 25],
  ['stream', 25],
  ['follow', 20],
  ['cancel', 15],
  ['approval', 15],
];

/** A user with a chat of their own, doing one action after another until the soak ends. */
export async function virtualUser(traffic: Traffic, userId: string, actions: number = Infinity): Promise<void> {
  const chat = await json(traffic, 'POST', `${pick(traffic.instances)}/chats`, userId, { title: userId });
  if (!chat?.chat_id) return problem(traffic, 'could not create a chat');
  for (let done = 0; done < actions && !over(traffic); done++) {
    const action = weighted();
    const [home, other] = Math.random() < 0.5 ? traffic.instances : [...traffic.instances].reverse();
    const user: User = { traffic, userId, chatId: chat.chat_id, home: home!, other: other! };
    traffic.actions[action]++;
    try {
      await ACTIONS[action](user);
    } catch (error) {
      problem(traffic, `${action}: ${(error as Error).name === 'TimeoutError' ? 'hung' : String(error)}`);
    }
  }
}

interface User {
  traffic: Traffic;
  userId: string;
  chatId: string;
  home: string;
  other: string;
}

const ACTIONS: Record<Action, (user: User) => Promise<void>> = {
  /** POST /run, answered as a whole. */
  async run(user) {
    const input = `run ${randomUUID()}`;
    const body = await json(user.traffic, 'POST', `${user.home}/bard/run`, user.userId, { input, session_id: user.chatId });
    if (body?.status !== 'completed' || body.final_output !== user.traffic.answer) return problem(user.traffic, `run: ${describe(body)}`);
    record(user, 'run', body.run_id, [{ kind: 'user', text: input }, { kind: 'assistant', text: body.final_output }]);
  },

  /** POST /stream, read to its terminal event; the deltas must add up to the final output. */
  async stream(user) {
    const input = `stream ${randomUUID()}`;
    const events = await readAll(await openStream(user, `${user.home}/bard/stream`, { input, session_id: user.chatId }));
    const last = events.at(-1);
    if (!contiguous(events) || last?.event !== 'run.completed') return problem(user.traffic, `stream: ended with ${last?.event}`);
    if (deltas(events) !== last.data.final_output) return problem(user.traffic, 'stream: deltas differ from the final output');
    record(user, 'stream', last.data.run_id, [{ kind: 'user', text: input }, { kind: 'assistant', text: last.data.final_output }]);
  },

  /**
   * A run on one instance followed from the other: a /stream whose follower must see the very
   * same events, or a background run whose follower is its only reader. Half the followers drop
   * mid-way and reconnect with Last-Event-ID, and must still see every event once.
   */
  async follow(user) {
    const input = `follow ${randomUUID()}`;
    const body = { input, session_id: user.chatId };
    let own: Promise<SseEvent[]> | undefined;
    let runId: string;
    if (Math.random() < 0.5) {
      const stream = await openStream(user, `${user.home}/bard/stream`, body);
      const head = await stream.until((event) => event.event === 'run.started' || isTerminal(event));
      runId = head.at(-1)?.data.run_id;
      own = readAll(stream).then((rest) => [...head, ...rest]);
    } else {
      const started = await json(user.traffic, 'POST', `${user.home}/bard/run`, user.userId, { ...body, background: true });
      runId = started?.run_id;
    }
    if (!runId) return problem(user.traffic, 'follow: the run did not start');
    const path = `${user.other}/chats/${user.chatId}/runs/${runId}/stream`;
    let followed: SseEvent[];
    if (Math.random() < 0.5) {
      const first = await openStream(user, path);
      const head = await first.until((event) => event.event === 'text.delta' || isTerminal(event));
      first.close();
      const after = head.at(-1)?.id ?? 0;
      followed = [...head, ...(await readAll(await openStream(user, path, undefined, { 'last-event-id': String(after) })))];
    } else {
      followed = await readAll(await openStream(user, path));
    }
    const last = followed.at(-1);
    if (!contiguous(followed) || last?.event !== 'run.completed') return problem(user.traffic, `follow: ended with ${last?.event}`);
    if (own && !isDeepStrictEqual(await own, followed)) return problem(user.traffic, "follow: events differ from the streamer's");
    record(user, 'follow', runId, [{ kind: 'user', text: input }, { kind: 'assistant', text: last.data.final_output }]);
  },

  /**
   * A /stream cancelled from the other instance after a few words. The chat keeps the input and
   * the words the client saw, as an incomplete assistant message; a cancel that comes too late
   * (409 run_finished) leaves a completed turn.
   */
  async cancel(user) {
    const input = `cancel ${randomUUID()}`;
    const stream = await openStream(user, `${user.home}/bard/stream`, { input, session_id: user.chatId });
    let words = 0;
    const head = await stream.until((event) => (event.event === 'text.delta' && ++words === 3) || isTerminal(event));
    const runId = head[0]?.data.run_id;
    const answer = await request(user.traffic, 'POST', `${user.other}/chats/${user.chatId}/runs/${runId}/cancel`, user.userId);
    const events = [...head, ...(await readAll(stream))];
    const last = events.at(-1);
    if (!contiguous(events)) return problem(user.traffic, 'cancel: events not contiguous');
    if (answer.status === 409 && answer.body?.error?.code === 'run_finished' && last?.event === 'run.completed') {
      user.traffic.lateCancels++;
      return record(user, 'cancel', runId, [{ kind: 'user', text: input }, { kind: 'assistant', text: last.data.final_output }]);
    }
    // 202: the run had not stopped within the endpoint's few seconds (a busy machine); its
    // stream must still end with run.cancelled.
    if (answer.status === 202 && answer.body?.status === 'running') user.traffic.slowCancels++;
    else if (answer.status !== 200 || answer.body?.status !== 'cancelled') {
      return problem(user.traffic, `cancel: ${answer.status} ${describe(answer.body)}`);
    }
    if (last?.event !== 'run.cancelled') {
      return problem(user.traffic, `cancel: answered ${answer.status}, stream ended with ${last?.event}`);
    }
    const said = deltas(events);
    record(user, 'cancel', runId, [{ kind: 'user', text: input }, ...(said ? [{ kind: 'assistant' as const, text: said }] : [])]);
  },

  /** A run that waits for approval (via /run or /stream), decided on the other instance. */
  async approval(user) {
    const input = `approval ${randomUUID()}`;
    const body = { input, session_id: user.chatId };
    let waiting: any;
    if (Math.random() < 0.5) {
      waiting = await json(user.traffic, 'POST', `${user.home}/janitor/run`, user.userId, body);
    } else {
      const events = await readAll(await openStream(user, `${user.home}/janitor/stream`, body));
      waiting = events.at(-1)?.data;
    }
    const callId = waiting?.approvals?.[0]?.call_id;
    if (waiting?.status !== 'awaiting_approval' || !callId) return problem(user.traffic, `approval: ${describe(waiting)}`);
    const approved = Math.random() < 0.5;
    user.traffic.approvals[approved ? 'approved' : 'rejected']++;
    const decision = { call_id: callId, approved, ...(approved ? {} : { message: 'Not now.' }) };
    const done = await json(user.traffic, 'POST', `${user.other}/janitor/runs/${waiting.run_id}/approvals`, user.userId, {
      decisions: [decision],
    });
    if (done?.status !== 'completed' || done.final_output !== user.traffic.answer) return problem(user.traffic, `approval decision: ${describe(done)}`);
    record(user, 'approval', waiting.run_id, [
      { kind: 'user', text: input },
      { kind: 'function_call', callId },
      { kind: 'function_call_result', callId },
      { kind: 'assistant', text: done.final_output },
    ]);
  },
};

function record(user: User, action: Action, runId: string, expected: ExpectedItem[]): void {
  user.traffic.turns.push({ action, chatId: user.chatId, runId, expected });
}

function problem(traffic: Traffic, what: string): void {
  traffic.problems.set(what, (traffic.problems.get(what) ?? 0) + 1);
}

const over = (traffic: Traffic) => Date.now() >= traffic.deadline || traffic.requests >= traffic.maxRequests;

function weighted(): Action {
  let roll = Math.random() * WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [action, weight] of WEIGHTS) if ((roll -= weight) < 0) return action;
  return 'run';
}

const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)]!;

async function request(traffic: Traffic, method: string, url: string, userId: string, body?: unknown) {
  traffic.requests++;
  const response = await fetch(url, {
    method,
    headers: { 'x-user-id': userId, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** The JSON body of a request (whatever its status: callers check the body's fields). */
async function json(traffic: Traffic, method: string, url: string, userId: string, body?: unknown): Promise<any> {
  return (await request(traffic, method, url, userId, body)).body;
}

async function openStream(user: User, url: string, body?: unknown, headers: Record<string, string> = {}) {
  user.traffic.requests++;
  const stream = await within(
    EventStreamClient.open(url, { method: body === undefined ? 'GET' : 'POST', body, headers: { 'x-user-id': user.userId, ...headers } }),
  );
  if (stream.body !== undefined) throw new Error(`${url} answered ${stream.status} ${describe(stream.body)}`);
  return stream;
}

/** Every remaining event of a stream; a stream that does not end in time counts as hung. */
function readAll(stream: EventStreamClient): Promise<SseEvent[]> {
  return within(stream.rest(), () => stream.close());
}

function within<T>(promise: Promise<T>, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' }));
    }, TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Event ids 1, 2, 3... with no gap and no repeat, from the first event of the run. */
const contiguous = (events: SseEvent[]) => events.length > 0 && events.every((event, index) => event.id === index + 1);

const deltas = (events: SseEvent[]) =>
  events
    .filter((event) => event.event === 'text.delta')
    .map((event) => event.data.delta)
    .join('');

const describe = (body: any) => JSON.stringify(body)?.slice(0, 200);
