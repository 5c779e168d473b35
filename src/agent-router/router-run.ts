import { randomUUID } from 'node:crypto';
import type { Agent, AgentInputItem, RunItem } from '@openai/agents';
import { encodeTaggedJson } from '../db/item-codec.js';
import type { AnyKysely } from '../db/schema.js';
import {
  AgentRouterError,
  ChatDeletedError,
  ChatNotFoundError,
  LeaseLostError,
  RunTimeoutError,
  SessionBusyError,
} from '../errors.js';
import type { ChatStore } from '../chats/chat-store.js';
import type { Logger } from '../http/logger.js';
import { attributeAgents } from './agent-attribution.js';
import {
  completeRun,
  createChatIfMissing,
  endRunWithoutTurn,
  renewLease,
  startRunOnChat,
  startRunOnNewChat,
  usageOf,
  type EndRunArgs,
  type StartRunArgs,
  type Usage,
} from './run-queries.js';
import { toRunError } from './run-errors.js';
import type { RunAnswer } from './run-payloads.js';
import { TurnSession } from './turn-session.js';

export interface LeaseSettings {
  leaseTtlMs: number;
  onBusy: 'reject' | 'wait';
  busyTimeoutMs: number;
}

export interface BeginRunArgs extends LeaseSettings {
  db: AnyKysely;
  /** Aborted when the router shuts down: the run gives up, even while waiting for its lease. */
  signal: AbortSignal;
  /** The longest a run may take before it is aborted (504 run_timeout). */
  runTimeoutMs: number;
  userId: string;
  agentName: string;
  input: string | AgentInputItem[];
  sessionId: string | undefined;
  streamed: boolean;
  autoCreateChats: boolean;
  historyLimit: number | undefined;
  logger: Logger;
  /**
   * The host's chat store, when it configured one: it then decides who may run on a chat and
   * creates new chats. Without it the default store's rule (the owner only) is part of the
   * lease statement, which saves a round trip per run.
   */
  store: ChatStore | undefined;
}

/** The parts of a finished SDK run the router records. */
export interface FinishedRun {
  finalOutput?: unknown;
  lastAgent?: Agent<any, any> | undefined;
  newItems: RunItem[];
  interruptions?: unknown[];
  state: { usage: Usage };
}

/**
 * One run through the router, from taking the session's lease to writing its outcome. The lease
 * is renewed while the run goes on; if it is lost (the process stalled past its expiry and
 * another run took the session), the run is aborted and its turn is not written.
 */
export class RouterRun {
  readonly runId = randomUUID();
  readonly controller = new AbortController();
  readonly session: TurnSession;
  readonly #args: BeginRunArgs;
  readonly #chatId: string;
  readonly #startedAt = Date.now();
  #renewal: NodeJS.Timeout | undefined;
  #timeout: NodeJS.Timeout | undefined;
  /** Why the run lost its lease, once a renewal found out. */
  #leaseLost: 'lost' | 'chat_deleted' | undefined;
  /** Resolves once the run's end is recorded (or every attempt to record it failed). */
  #settled: Promise<void> = Promise.resolve();
  #ended = false;
  /** Set once the run's end was recorded (failed or cancelled); later calls return it. */
  #failure: AgentRouterError | undefined;

  private constructor(args: BeginRunArgs, chatId: string) {
    this.#args = args;
    this.#chatId = chatId;
    this.session = new TurnSession(args.db, chatId, args.historyLimit);
  }

  get chatId(): string {
    return this.#chatId;
  }

  /**
   * Takes the chat's lease and records the run: on a new chat for the caller when no session id
   * is given, else on the caller's chat. Throws 404 for a chat that is missing or someone else's
   * (unless `autoCreateChats`), 409 when another run holds it (after waiting, with onBusy "wait").
   */
  static async begin(args: BeginRunArgs): Promise<RouterRun> {
    const run = new RouterRun(args, args.sessionId ?? randomUUID());
    const start: StartRunArgs = {
      runId: run.runId,
      userId: args.userId,
      agentName: args.agentName,
      streamed: args.streamed,
      input: encodeTaggedJson(args.input, 'input'),
      leaseTtlMs: args.leaseTtlMs,
    };
    if (args.sessionId === undefined && !args.store) {
      await startRunOnNewChat(args.db, { ...start, chatId: run.chatId, title: titleFrom(args.input) });
    } else {
      await run.#acquire(start);
    }
    run.#renewal = setInterval(() => void run.#renew(), Math.max(Math.floor(args.leaseTtlMs / 3), 10));
    run.#renewal.unref();
    // A run that never ends (a tool or a model call that hangs) would renew its lease for ever.
    run.#timeout = setTimeout(() => run.controller.abort(new RunTimeoutError(args.runTimeoutMs)), args.runTimeoutMs);
    run.#timeout.unref();
    const shutdown = () => run.controller.abort(args.signal.reason);
    if (args.signal.aborted) shutdown();
    else args.signal.addEventListener('abort', shutdown, { once: true });
    return run;
  }

  /** Resolves once the run's end is recorded, background retries included (for drain()). */
  get settled(): Promise<void> {
    return this.#settled;
  }

  async #acquire(start: StartRunArgs): Promise<void> {
    const { db, onBusy, busyTimeoutMs, store, userId } = this.#args;
    // With a host store, the store says whether the caller may use the chat (or creates it),
    // and the lease is then taken on the chat whoever owns it.
    if (store) await this.#admitThroughStore(store);
    const ownerId = store ? null : userId;
    const deadline = Date.now() + (onBusy === 'wait' ? busyTimeoutMs : 0);
    let createdMissing = false;
    for (let attempt = 0; ; attempt++) {
      if (this.#args.signal.aborted) throw this.#args.signal.reason;
      const result = await startRunOnChat(db, { ...start, chatId: this.#chatId, ownerId });
      if (result.outcome === 'started') return;
      if (result.outcome === 'not_found') {
        if (store || !this.#args.autoCreateChats || createdMissing) throw new ChatNotFoundError();
        // Another owner's chat under this id stays theirs: the next attempt answers 404.
        await createChatIfMissing(db, this.#chatId, userId, titleFrom(this.#args.input));
        createdMissing = true;
        continue;
      }
      const wait = Math.min(result.retryAfterMs, 50 * 2 ** Math.min(attempt, 4));
      if (Date.now() + wait > deadline) throw new SessionBusyError(result.holderRunId);
      await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 10)));
    }
  }

  /** Creates the chat through the host's store, or asks it whether the caller may use it. */
  async #admitThroughStore(store: ChatStore): Promise<void> {
    const { sessionId, userId, autoCreateChats, input } = this.#args;
    if (sessionId === undefined) {
      const created = await store.createChat(userId, { id: this.#chatId, title: titleFrom(input) });
      if (!created) throw new Error('The chat store created no chat for a new, generated id.');
      return;
    }
    if (await store.getChat(userId, sessionId)) return;
    if (autoCreateChats && (await store.createChat(userId, { id: sessionId, title: titleFrom(input) }))) return;
    throw new ChatNotFoundError();
  }

  async #renew(): Promise<void> {
    if (this.#ended) return;
    try {
      const lease = await renewLease(this.#args.db, this.#chatId, this.runId, this.#args.leaseTtlMs);
      if (lease !== 'held' && !this.#ended) {
        this.#leaseLost = lease;
        this.controller.abort(leaseError(lease));
      }
    } catch (error) {
      // The database may be briefly away; the lease stands until its expiry, and the next
      // renewal (or the final write) finds out.
      this.#args.logger.warn(`Could not renew the lease of run ${this.runId}`, { error: String(error) });
    }
  }

  /** Writes the turn and the run's completion; returns the answer, or throws (409 lease_lost). */
  async complete(result: FinishedRun): Promise<RunAnswer> {
    this.#stopRenewal();
    if (this.#failure) throw this.#failure;
    if (result.interruptions && result.interruptions.length > 0) {
      throw new AgentRouterError(
        'The agent asked for a tool approval (needsApproval), which the router does not support; nothing was stored.',
        { status: 422, code: 'approval_required' },
      );
    }
    if (this.#leaseLost) throw leaseError(this.#leaseLost);
    const { cleared, removed, added } = this.session.changes;
    const agentName = result.lastAgent?.name ?? this.#args.agentName;
    const usage = usageOf(result.state.usage);
    const written = await completeRun(this.#args.db, {
      chatId: this.#chatId,
      runId: this.runId,
      cleared,
      removed,
      items: { json: added.map((entry) => entry.json) },
      itemAgents: attributeAgents(
        added.map((entry) => entry.item),
        this.#args.agentName,
        result.newItems,
      ),
      lastAgentName: agentName,
      finalOutput: encodeOwnJson(result.finalOutput ?? null, 'final output'),
      usage,
      durationMs: Date.now() - this.#startedAt,
    });
    if (written !== 'written') throw leaseError(written);
    this.#ended = true;
    return {
      final_output: result.finalOutput ?? null,
      session_id: this.#chatId,
      run_id: this.runId,
      agent_name: agentName,
      usage: {
        requests: usage.requests,
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        total_tokens: usage.totalTokens,
      },
    };
  }

  /**
   * Records a run that ended without a turn (failed, or cancelled because the client left) and
   * releases the lease. Returns the error to answer with. Never throws: if even this write fails
   * (database gone), the lease simply expires and the run is closed by the next taker or sweep.
   */
  async fail(error: unknown, usage: Usage, lastAgentName: string | null = null): Promise<AgentRouterError> {
    this.#stopRenewal();
    if (this.#failure) return this.#failure;
    this.#ended = true;
    // An abort we caused (lease lost, client gone) explains the failure better than whatever
    // error it surfaced as (an AbortError, the model's request aborted...).
    const reason: unknown = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
    const answer = this.#leaseLost
      ? leaseError(this.#leaseLost)
      : reason instanceof AgentRouterError
        ? reason
        : toRunError(error);
    this.#failure = answer;
    const cancelled = answer.code === 'client_disconnected' || answer.code === 'shutting_down';
    const end = {
      chatId: this.#chatId,
      runId: this.runId,
      status: cancelled ? ('cancelled' as const) : ('failed' as const),
      errorCode: answer.code,
      errorMessage: answer.message,
      lastAgentName,
      usage: usageOf(usage),
      durationMs: Date.now() - this.#startedAt,
    };
    try {
      await endRunWithoutTurn(this.#args.db, end);
    } catch (writeError) {
      // Most likely the connection that just failed: try again in the background with fresh
      // ones, so that a brief fault does not keep the session locked until the lease expires.
      this.#settled = this.#retryEnd(end, writeError);
    }
    return answer;
  }

  async #retryEnd(end: EndRunArgs, firstError: unknown): Promise<void> {
    let lastError = firstError;
    for (const delay of [100, 500, 2_000]) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      try {
        await endRunWithoutTurn(this.#args.db, end);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.#args.logger.error(`Could not record the end of run ${this.runId}; its lease will expire by itself`, {
      error: String(lastError),
    });
  }

  #stopRenewal(): void {
    if (this.#renewal) clearInterval(this.#renewal);
    if (this.#timeout) clearTimeout(this.#timeout);
    this.#renewal = undefined;
    this.#timeout = undefined;
  }
}

/** The error a run answers with when it no longer holds its chat. */
function leaseError(reason: 'lost' | 'lease_lost' | 'chat_deleted'): AgentRouterError {
  return reason === 'chat_deleted' ? new ChatDeletedError() : new LeaseLostError();
}

/**
 * JSON of something the run produced (not the client's input): if it cannot be encoded, that is
 * the server's failure (500), not a bad request.
 */
function encodeOwnJson(value: unknown, what: string): string {
  try {
    return encodeTaggedJson(value, what);
  } catch (error) {
    throw new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
  }
}

/** A new chat's title: the first words of the input, at most 80 characters. */
export function titleFrom(input: string | AgentInputItem[]): string | null {
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else {
    const first = input.find((item) => 'role' in item && item.role === 'user') as { content?: unknown } | undefined;
    if (typeof first?.content === 'string') text = first.content;
    else if (Array.isArray(first?.content)) {
      text = first.content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join(' ');
    }
  }
  // Whitespace collapsed; characters PostgreSQL text cannot hold removed.
  const words = text?.replace(/\u0000/g, '').toWellFormed().split(/\s+/).filter(Boolean) ?? [];
  if (words.length === 0) return null;
  let title = '';
  for (const word of words.slice(0, 8)) {
    if ((title + ' ' + word).trim().length > 80) break;
    title = (title + ' ' + word).trim();
  }
  if (!title) title = words[0]!.slice(0, 79);
  return title.length < words.join(' ').length ? `${title}…` : title;
}
