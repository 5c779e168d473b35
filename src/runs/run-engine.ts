import { randomUUID } from 'node:crypto';
import {
  RunContext,
  RunState,
  run as runWithDefaultRunner,
  type Agent,
  type AgentInputItem,
  type RunItem,
  type RunStreamEvent,
  type RunToolApprovalItem,
  type Runner,
  type CallModelInputFilterArgs,
  type ModelInputData,
} from '@openai/agents';
import type { ChatStore } from '../chats/chat-store.js';
import { encodeJson, encodeTaggedJson } from '../db/item-codec.js';
import type { AnyKysely } from '../db/schema.js';
import {
  AgentRouterError,
  ApprovalPendingError,
  ChatDeletedError,
  ChatNotFoundError,
  ClientDisconnectedError,
  InvalidRequestError,
  LeaseLostError,
  RunCancelledError,
  RunTimeoutError,
  SessionBusyError,
} from '../errors.js';
import type { Logger } from '../http/logger.js';
import { activeRuns } from './active-runs.js';
import { attributeAgents } from './agent-attribution.js';
import { EventRecorder, type EventListener } from './event-recorder.js';
import { withoutUnansweredCalls } from './history-window.js';
import { bindRunScope } from './run-context.js';
import { toRunError, usageOfFailedRun } from './run-errors.js';
import type { AwaitingApprovalAnswer, PendingApproval, RecordedRunEvent, RunAnswer, RunEvent } from './run-payloads.js';
import {
  createChatIfMissing,
  endRunWithoutTurn,
  finishRunWithTurn,
  renewLease,
  startRunOnChat,
  startRunOnNewChat,
  usageOf,
  type EndRunArgs,
  type LoadedState,
  type StartRunArgs,
  type TurnEnd,
  type Usage,
} from './run-queries.js';
import { runWatcher } from './run-watcher.js';
import { runEventsOfItems, runEventsOfStreamEvent } from './sdk-events.js';
import { isToolFailure } from './tool-failures.js';
import { titleFrom } from './chat-title.js';
import { TurnSession, type AddedItem } from './turn-session.js';
import { SessionState, type StateValue } from '../state/session-state.js';
import { callRunHook, type RunHooks } from './run-hooks.js';

/** What the engine needs to know about the agent router it runs for, resolved once. */
export interface RunEngineSettings {
  agent: Agent<any, any>;
  prefix: string;
  runner: Runner | undefined;
  maxTurns: number | undefined;
  historyLimit: number | undefined;
  /** How long a lease lasts without renewal; renewed every third of it. */
  leaseTtlMs: number;
  onBusy: 'reject' | 'wait';
  busyTimeoutMs: number;
  /** The longest one stretch of a run may take before it is aborted (504 run_timeout). */
  runTimeoutMs: number;
  logger: Logger;
  /**
   * Edits what each model call is sent (the SDK's `callModelInputFilter` run option), for
   * features that add to the instructions (recalled memories). Replaces a filter set on the
   * host's Runner.
   */
  callModelInputFilter?: RunInputFilter;
  /** Write a run's events while it goes on (false: only its first and terminal events). */
  recordEvents: boolean;
  /** The router's `onRunStart` and `onRunFinish`. */
  hooks: RunHooks;
}

/**
 * The SDK's `callModelInputFilter` with the run's context as a second argument: the SDK hands its
 * filter only the context's value (`args.context`, often undefined), from which nothing tells
 * whose run it is; `scopeOf(runContext)` does.
 */
export type RunInputFilter = (
  args: CallModelInputFilterArgs<any>,
  runContext: RunContext<unknown>,
) => ModelInputData | Promise<ModelInputData>;

/** How the caller takes part: waits for the answer, streams the events, or lets it run. */
export type RunMode = 'wait' | 'stream' | 'background';

/** The ids a run has before it starts, for the host's run context factory. */
export interface RunIds {
  userId: string;
  sessionId: string;
  runId: string;
}

export interface StartArgs {
  db: AnyKysely;
  userId: string;
  /** The new input, or `{ regenerate: true }`: run the chat's last user message again, replacing its turn. */
  input: string | AgentInputItem[] | { regenerate: true };
  /** The chat to run on; a new one for the caller when undefined. */
  sessionId: string | undefined;
  mode: RunMode;
  /** The host's chat store, when it configured one (it then admits the caller and creates chats). */
  store: ChatStore | undefined;
  autoCreateChats: boolean;
  /** The host's run context, built once the run's ids are known. */
  context: (ids: RunIds) => unknown;
  /** The state a chat this run creates starts with (the router's `initialState`). */
  initialState?: Record<string, unknown>;
  /** Aborted by drain(): the run gives up, even while waiting for its lease. */
  signal: AbortSignal;
}

/** How a stretch of a run ended. */
export type RunOutcome =
  | { status: 'completed'; answer: RunAnswer }
  | { status: 'awaiting_approval'; answer: AwaitingApprovalAnswer }
  | { status: 'failed' | 'cancelled'; error: AgentRouterError };

/** The parts of a finished SDK run the engine records. */
export interface FinishedRun {
  finalOutput?: unknown;
  lastAgent?: Agent<any, any> | undefined;
  newItems: RunItem[];
  interruptions?: RunToolApprovalItem[];
  state: { usage: Usage; toString(): string };
}

type StreamedRun = FinishedRun &
  AsyncIterable<RunStreamEvent> & { completed: Promise<void>; error: unknown; cancelled: boolean };

/** Codes of the ends that keep what the run had said (the run was stopped, not broken). */
const CANCEL_CODES = new Set(['run_cancelled', 'client_disconnected', 'shutting_down']);

/**
 * One stretch of a run through the router, from taking its chat's lease to recording how it
 * ended: the one place that owns a run's life in PostgreSQL. It holds the lease (renewed while it
 * goes on; if it is lost, the run is aborted and writes nothing), records the run's events (fed
 * to followers on this instance at once, written in batches for the others), watches for a cancel
 * request from any instance, and ends the run with one statement: completed, waiting for tool
 * approvals, cancelled (keeping what was said so far) or failed.
 *
 * Handlers only start a run, then wait for its `outcome`, follow its events, or neither (a
 * background run).
 */
export class ActiveRun {
  readonly runId: string;
  readonly chatId: string;
  readonly userId: string;
  readonly db: AnyKysely;
  /** Resolves once the run's end is recorded (or every attempt to record it failed), for drain(). */
  settled: Promise<void> = Promise.resolve();
  readonly #settings: RunEngineSettings;
  readonly #controller = new AbortController();
  readonly #startedAt = Date.now();
  #session: TurnSession;
  #recorder!: EventRecorder;
  #outcome!: Promise<RunOutcome>;
  #renewal: NodeJS.Timeout | undefined;
  #timeout: NodeJS.Timeout | undefined;
  #unwatchCancel: (() => void) | undefined;
  #leaseLost: 'lost' | 'chat_deleted' | undefined;
  #ended = false;
  /** Usage already recorded for this run (by the stretches before a resume). */
  #usageBefore: Usage = usageOf(undefined);
  /** Text the model streamed since its last whole message: what a cancel keeps as incomplete. */
  #partialText = '';
  /** The items this stretch produced, as the stream announced them (what a cancel keeps). */
  readonly #streamedItems: AgentInputItem[] = [];
  #currentAgent: string;
  /** The run's session state, as the statement that took the lease read it. */
  #state!: SessionState;
  /** Tool calls and failures of the run so far, by tool name (recorded with its end). */
  #tools: ToolStats = {};
  /** Tool names by call id, to count an output against its tool. */
  readonly #toolNames = new Map<string, string>();

  private constructor(settings: RunEngineSettings, db: AnyKysely, ids: { runId: string; chatId: string; userId: string }) {
    this.#settings = settings;
    this.db = db;
    this.runId = ids.runId;
    this.chatId = ids.chatId;
    this.userId = ids.userId;
    this.#currentAgent = settings.agent.name;
    this.#session = new TurnSession(db, ids.chatId, settings.historyLimit);
  }

  /** How the run ended; never rejects. */
  get outcome(): Promise<RunOutcome> {
    return this.#outcome;
  }

  /** The id of the first event this instance holds in memory (earlier ones are in PostgreSQL). */
  get firstEventId(): number {
    return this.#recorder.firstId;
  }

  /** Feeds `listener` the run's events after `afterId` held here, then new ones to the terminal. */
  subscribe(afterId: number, listener: EventListener): () => void {
    return this.#recorder.subscribe(afterId, listener);
  }

  /** Stops the run: it ends cancelled with `reason`, keeping what was said so far. */
  cancel(reason: AgentRouterError = new RunCancelledError()): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /**
   * Takes the chat's lease, records the run with its first event (`run.started`), and sets the
   * run going. Throws, having started nothing, 404 for a chat that is missing or someone else's
   * (unless `autoCreateChats`), 409 when another run holds it (after waiting, with onBusy
   * "wait") or a run on it waits for approval.
   */
  static async start(settings: RunEngineSettings, args: StartArgs): Promise<ActiveRun> {
    const ids = { runId: randomUUID(), chatId: args.sessionId ?? randomUUID(), userId: args.userId };
    const run = new ActiveRun(settings, args.db, ids);
    const context = await args.context({ userId: ids.userId, sessionId: ids.chatId, runId: ids.runId });
    const first: RecordedRunEvent = {
      id: 1,
      event: 'run.started',
      data: { session_id: ids.chatId, run_id: ids.runId, agent_name: settings.agent.name },
    };
    const regenerate = !Array.isArray(args.input) && typeof args.input === 'object';
    const start: StartRunArgs = {
      runId: ids.runId,
      userId: args.userId,
      agentName: settings.agent.name,
      prefix: settings.prefix,
      streamed: args.mode !== 'wait',
      background: args.mode === 'background',
      // A regeneration is recorded as `{ regenerate: true }`: a string would read as a message.
      input: encodeTaggedJson(args.input, 'input'),
      leaseTtlMs: settings.leaseTtlMs,
      firstEvent: { id: 1, event: first.event, data: encodeJson(first.data, 'event') },
      historyCount: run.#session.firstReadCount,
    };
    const title = regenerate ? null : titleFrom(args.input as string | AgentInputItem[]);
    const initialState = encodeJson(args.initialState ?? {}, 'initial state');
    const loaded =
      args.sessionId === undefined && !args.store
        ? await startRunOnNewChat(args.db, { ...start, chatId: ids.chatId, title, state: initialState })
        : await run.#acquire(start, { ...args, title, initialStateJson: initialState });
    run.#state = stateOf(loaded);
    // A regeneration reads the history its own way first (takeLastTurn).
    if (!regenerate) run.#session.startWith(loaded.history);
    run.#recorder = new EventRecorder(args.db, ids.runId, first, settings.logger, settings.recordEvents);
    run.#begin(args.signal);
    run.#outcome = (async () => {
      await callRunHook(settings.hooks.onRunStart, 'onRunStart', args.db, ids.runId, settings.logger);
      let input = args.input as string | AgentInputItem[];
      if (regenerate) {
        // Under the lease: the turn to replace cannot change meanwhile.
        const last = await run.#session.takeLastTurn().catch((error: unknown) => error);
        if (last instanceof Error || last === undefined) {
          return run.#endAfterError(
            last ?? new InvalidRequestError('There is no message to regenerate an answer for: the chat holds no user message.'),
            undefined,
            undefined,
          );
        }
        input = [last as AgentInputItem];
      }
      return run.#execute(input, context, args.mode !== 'wait', input);
    })();
    return run;
  }

  /** Sets going a run whose lease (and first event of this stretch) was just taken by a resume. */
  static resumed(
    settings: RunEngineSettings,
    args: {
      db: AnyKysely;
      ids: { runId: string; chatId: string; userId: string };
      state: RunState<any, any>;
      runContext: RunContext<unknown>;
      first: RecordedRunEvent;
      usageBefore: Usage;
      /** Tool calls the stretches before recorded, by tool name. */
      toolsBefore: ToolStats;
      /** The calls the run waited for, by call id: their outputs arrive in this stretch. */
      waitingCalls: ReadonlyMap<string, string>;
      /** The session state, as the statement that took the run back up read it. */
      loaded: LoadedState;
      signal: AbortSignal;
    },
  ): ActiveRun {
    const run = new ActiveRun(settings, args.db, args.ids);
    run.#usageBefore = args.usageBefore;
    run.#state = stateOf(args.loaded);
    run.#tools = structuredClone(args.toolsBefore);
    for (const [callId, name] of args.waitingCalls) run.#toolNames.set(callId, name);
    run.#recorder = new EventRecorder(args.db, args.ids.runId, args.first, settings.logger, settings.recordEvents);
    run.#begin(args.signal);
    // Always streamed inside: a resumed state's result lists the items of the stretches before
    // too, while its stream announces only the new ones (what this stretch records).
    run.#outcome = run.#execute(args.state, args.runContext, true, undefined);
    return run;
  }

  /** Lease renewal, time limit, shutdown, cancel requests, and the registry of this process. */
  #begin(shutdownSignal: AbortSignal): void {
    const { leaseTtlMs, runTimeoutMs } = this.#settings;
    this.#renewal = setInterval(() => void this.#renew(), Math.max(Math.floor(leaseTtlMs / 3), 10));
    this.#renewal.unref();
    // A run that never ends (a tool or a model call that hangs) would renew its lease for ever.
    this.#timeout = setTimeout(() => this.#controller.abort(new RunTimeoutError(runTimeoutMs)), runTimeoutMs);
    this.#timeout.unref();
    const shutdown = () => this.#controller.abort(shutdownSignal.reason);
    if (shutdownSignal.aborted) shutdown();
    else shutdownSignal.addEventListener('abort', shutdown, { once: true });
    this.#unwatchCancel = runWatcher(this.db, this.#settings.logger).watchCancel(this.runId, () => this.cancel());
    activeRuns.add(this);
  }

  async #acquire(start: StartRunArgs, args: StartArgs & { title: string | null; initialStateJson: string }): Promise<LoadedState> {
    const { onBusy, busyTimeoutMs } = this.#settings;
    // With a host store, the store says whether the caller may use the chat (or creates it),
    // and the lease is then taken on the chat whoever owns it.
    if (args.store) await this.#admitThroughStore(args.store, args);
    const ownerId = args.store ? null : args.userId;
    const deadline = Date.now() + (onBusy === 'wait' ? busyTimeoutMs : 0);
    let createdMissing = false;
    for (let attempt = 0; ; attempt++) {
      if (args.signal.aborted) throw args.signal.reason;
      const result = await startRunOnChat(this.db, { ...start, chatId: this.chatId, ownerId });
      if (result.outcome === 'started') return result;
      if (result.outcome === 'approval_pending') throw new ApprovalPendingError(result.pendingRunId);
      if (result.outcome === 'not_found') {
        if (args.store || !args.autoCreateChats || createdMissing) throw new ChatNotFoundError();
        // Another owner's chat under this id stays theirs: the next attempt answers 404.
        await createChatIfMissing(this.db, this.chatId, args.userId, args.title, args.initialStateJson);
        createdMissing = true;
        continue;
      }
      const wait = Math.min(result.retryAfterMs, 50 * 2 ** Math.min(attempt, 4));
      if (Date.now() + wait > deadline) throw new SessionBusyError(result.holderRunId);
      await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 10)));
    }
  }

  /** Creates the chat through the host's store, or asks it whether the caller may use it. */
  async #admitThroughStore(store: ChatStore, args: StartArgs & { title: string | null }): Promise<void> {
    const state = args.initialState ?? {};
    if (args.sessionId === undefined) {
      const created = await store.createChat(args.userId, { id: this.chatId, title: args.title, state });
      if (!created) throw new Error('The chat store created no chat for a new, generated id.');
      return;
    }
    if (await store.getChat(args.userId, args.sessionId)) return;
    if (args.autoCreateChats && (await store.createChat(args.userId, { id: args.sessionId, title: args.title, state }))) {
      return;
    }
    throw new ChatNotFoundError();
  }

  async #renew(): Promise<void> {
    if (this.#ended) return;
    try {
      const lease = await renewLease(this.db, this.chatId, this.runId, this.#settings.leaseTtlMs);
      if (lease !== 'held' && !this.#ended) {
        this.#leaseLost = lease;
        this.#controller.abort(leaseError(lease));
      }
    } catch (error) {
      // The database may be briefly away; the lease stands until its expiry, and the next
      // renewal (or the final write) finds out.
      this.#settings.logger.warn(`Could not renew the lease of run ${this.runId}`, { error: String(error) });
    }
  }

  /** Runs the SDK on `input` (a new turn, or a decided RunState) and records how it ended. */
  async #execute(
    input: string | AgentInputItem[] | RunState<any, any>,
    context: unknown,
    streamedRun: boolean,
    requestInput: string | AgentInputItem[] | undefined,
  ): Promise<RunOutcome> {
    const { agent, runner, maxTurns } = this.#settings;
    let runContext: RunContext<unknown>;
    if (context instanceof RunContext) runContext = context;
    else runContext = new RunContext(context);
    bindRunScope(runContext, {
      userId: this.userId,
      chatId: this.chatId,
      runId: this.runId,
      agentName: agent.name,
      db: this.db,
      state: this.#state,
    });
    const inputFilter = this.#settings.callModelInputFilter;
    const options = {
      session: this.#session,
      signal: this.#controller.signal,
      context: runContext,
      ...(maxTurns !== undefined ? { maxTurns } : {}),
      ...(inputFilter ? { callModelInputFilter: (args: CallModelInputFilterArgs<any>) => inputFilter(args, runContext) } : {}),
    };
    const execute = (stream: boolean): Promise<unknown> =>
      runner
        ? runner.run(agent, input as never, { ...options, stream } as never)
        : runWithDefaultRunner(agent, input as never, { ...options, stream } as never);
    let result: FinishedRun | undefined;
    let streamed: StreamedRun | undefined;
    try {
      if (!streamedRun) {
        result = (await execute(false)) as FinishedRun;
        // Not streamed: its tool calls and handoffs are recorded after the fact, with its end.
        for (const event of runEventsOfItems(result.newItems)) this.#emit(event);
      } else {
        streamed = (await execute(true)) as StreamedRun;
        for await (const event of streamed) this.#onStreamEvent(event);
        await streamed.completed;
        if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
        if (streamed.error) throw streamed.error;
        if (streamed.cancelled) throw new ClientDisconnectedError();
        result = streamed;
      }
    } catch (error) {
      return this.#endAfterError(error, streamed ?? result, requestInput);
    }
    try {
      if (result.interruptions && result.interruptions.length > 0) return await this.#awaitApproval(result);
      return await this.#complete(result);
    } catch (error) {
      return this.#endAfterError(error, result, requestInput);
    }
  }

  #onStreamEvent(event: RunStreamEvent): void {
    if (event.type === 'run_item_stream_event') {
      const raw = event.item.rawItem as AgentInputItem | undefined;
      if (event.item.type !== 'tool_approval_item' && raw) this.#streamedItems.push(raw);
      // A whole message, or a tool call, ends the text being said.
      if (event.name === 'message_output_created' || event.name === 'tool_called') this.#partialText = '';
    }
    for (const runEvent of runEventsOfStreamEvent(event)) {
      if (runEvent.event === 'text.delta') this.#partialText += runEvent.data.delta;
      this.#emit(runEvent);
    }
  }

  #emit(event: RunEvent): void {
    if (event.event === 'agent.updated') {
      if (event.data.agent_name === this.#currentAgent) return;
      this.#currentAgent = event.data.agent_name;
    }
    if (event.event === 'tool.called') {
      if (event.data.call_id) this.#toolNames.set(event.data.call_id, event.data.name);
      (this.#tools[event.data.name] ??= { calls: 0, failures: 0 }).calls++;
    }
    if (event.event === 'tool.output' && isToolFailure(event.data.output)) {
      const name = (event.data.call_id && this.#toolNames.get(event.data.call_id)) || 'unknown';
      (this.#tools[name] ??= { calls: 0, failures: 0 }).failures++;
    }
    this.#recorder.emit(event);
  }

  async #complete(result: FinishedRun): Promise<RunOutcome> {
    const agentName = result.lastAgent?.name ?? this.#settings.agent.name;
    const usage = usageOf(result.state.usage);
    const answer: RunAnswer = {
      status: 'completed',
      final_output: result.finalOutput ?? null,
      session_id: this.chatId,
      run_id: this.runId,
      agent_name: agentName,
      usage: usageJson(usage),
    };
    await this.#finishWithTurn(
      { status: 'completed', finalOutput: encodeOwnJson(answer.final_output, 'final output') },
      this.#session.changes.added,
      result,
      agentName,
      { event: 'run.completed', data: answer },
    );
    return { status: 'completed', answer };
  }

  async #awaitApproval(result: FinishedRun): Promise<RunOutcome> {
    const agentName = result.lastAgent?.name ?? this.#settings.agent.name;
    const approvals = result.interruptions!.map(pendingApprovalOf);
    const answer: AwaitingApprovalAnswer = {
      status: 'awaiting_approval',
      final_output: null,
      session_id: this.chatId,
      run_id: this.runId,
      agent_name: agentName,
      usage: usageJson(usageOf(result.state.usage)),
      approvals,
    };
    await this.#finishWithTurn(
      {
        status: 'awaiting_approval',
        runState: result.state.toString(),
        pendingApprovals: encodeOwnJson(result.interruptions!.map(storedApprovalOf), 'approvals', false),
      },
      this.#session.changes.added,
      result,
      agentName,
      { event: 'run.awaiting_approval', data: answer },
    );
    return { status: 'awaiting_approval', answer };
  }

  /** Writes the turn and the run's end in one statement; throws (409 lease_lost...) if it cannot. */
  async #finishWithTurn(
    end: TurnEnd,
    added: readonly AddedItem[],
    result: FinishedRun | undefined,
    lastAgentName: string,
    terminal: RunEvent,
  ): Promise<void> {
    this.#stopWatching();
    if (this.#leaseLost) throw leaseError(this.#leaseLost);
    const { cleared, removed } = this.#session.changes;
    // A cancelled run changes no state; the others write what they changed with their turn, and
    // tell followers (state.updated, just before the terminal event).
    const changes = end.status === 'cancelled' ? undefined : this.#state.changes();
    const { closing, events } = await this.#recorder.prepareEnd(
      changes ? [{ event: 'state.updated', data: this.#state.snapshot() }, terminal] : [terminal],
    );
    const written = await finishRunWithTurn(this.db, {
      chatId: this.chatId,
      runId: this.runId,
      end,
      cleared,
      removed,
      items: { json: added.map((entry) => entry.json) },
      itemAgents: attributeAgents(
        added.map((entry) => entry.item),
        this.#settings.agent.name,
        result?.newItems ?? [],
      ),
      lastAgentName,
      usage: this.#usageDelta(result?.state.usage),
      durationMs: Date.now() - this.#startedAt,
      toolCalls: encodeJson(this.#tools, 'tool calls'),
      events,
      ...(changes
        ? {
            state: {
              userId: this.userId,
              chat: changes.chat && encodeOwnJson(changes.chat, 'state', false),
              userSet: encodeOwnJson(changes.userSet, 'state', false),
              userDeleted: changes.userDeleted,
            },
          }
        : {}),
    });
    if (written !== 'written') throw leaseError(written);
    this.#end(closing, end.status !== 'awaiting_approval');
  }

  /**
   * Records a run that stopped on an error: cancelled ones (a cancel request, a client that left
   * with onDisconnect "abort", a shutdown) keep what was said so far; failed ones store nothing.
   * Never throws: if even this write fails (database gone), the lease simply expires and the run
   * is closed by the next taker, a sweep or a follower.
   */
  async #endAfterError(
    error: unknown,
    result: FinishedRun | undefined,
    requestInput: string | AgentInputItem[] | undefined,
  ): Promise<RunOutcome> {
    this.#stopWatching();
    // An abort we caused (lease lost, cancel, client gone, time limit) explains the failure
    // better than whatever error it surfaced as (an AbortError, the model's request aborted...).
    const reason: unknown = this.#controller.signal.aborted ? this.#controller.signal.reason : undefined;
    const answer = this.#leaseLost
      ? leaseError(this.#leaseLost)
      : reason instanceof AgentRouterError
        ? reason
        : toRunError(error);
    const lastAgentName = result?.lastAgent?.name ?? null;
    const usage = result?.state.usage ?? usageOfFailedRun(error);
    if (CANCEL_CODES.has(answer.code) && !this.#leaseLost) {
      try {
        await this.#finishWithTurn(
          { status: 'cancelled', errorCode: answer.code, errorMessage: answer.message },
          this.#cancelledTurn(requestInput),
          result,
          lastAgentName ?? this.#currentAgent,
          { event: 'run.cancelled', data: { error: { code: answer.code, message: answer.message } } },
        );
        return { status: 'cancelled', error: answer };
      } catch (writeError) {
        this.#settings.logger.warn(`Could not store what cancelled run ${this.runId} had said`, { error: String(writeError) });
      }
    }
    const terminal: RunEvent = { event: 'run.failed', data: { error: { code: answer.code, message: answer.message } } };
    const status = CANCEL_CODES.has(answer.code) ? 'cancelled' : 'failed';
    const { closing, events } = await this.#recorder.prepareEnd([
      status === 'cancelled' ? { event: 'run.cancelled', data: terminal.data } : terminal,
    ]);
    const end: EndRunArgs = {
      chatId: this.chatId,
      runId: this.runId,
      status,
      errorCode: answer.code,
      errorMessage: answer.message,
      lastAgentName,
      usage: this.#usageDelta(usage),
      durationMs: Date.now() - this.#startedAt,
      toolCalls: encodeJson(this.#tools, 'tool calls'),
      events,
    };
    let closedHere: boolean | Promise<boolean>;
    try {
      closedHere = await endRunWithoutTurn(this.db, end);
    } catch (writeError) {
      // Most likely the connection that just failed: try again in the background with fresh
      // ones, so that a brief fault does not keep the session locked until the lease expires.
      closedHere = this.#retryEnd(end, writeError);
      this.settled = closedHere.then(() => undefined);
    }
    this.#end(closing, closedHere);
    return { status, error: answer };
  }

  /**
   * What a cancelled run stores, so that the chat reads as the user saw it: what the runner had
   * handed the session (the user's input, outputs of approved tools), the items the stream had
   * announced since, and the text being said, as an `incomplete` assistant message. Never a tool
   * call without its output.
   */
  #cancelledTurn(requestInput: string | AgentInputItem[] | undefined): AddedItem[] {
    const added = [...this.#session.changes.added];
    if (added.length === 0 && requestInput !== undefined) {
      // Not streamed: the runner had handed the session nothing yet.
      const items: AgentInputItem[] =
        typeof requestInput === 'string' ? [{ type: 'message', role: 'user', content: requestInput }] : requestInput;
      added.push(...items.map((item) => ({ item, json: encodeJson(item, 'item') })));
    }
    const said = new Set(added.map((entry) => entry.json));
    const more: AgentInputItem[] = [];
    for (const item of this.#streamedItems) {
      const json = encodeJson(item, 'item');
      if (!said.has(json)) more.push(item);
    }
    if (this.#partialText) {
      more.push({
        type: 'message',
        role: 'assistant',
        status: 'incomplete',
        content: [{ type: 'output_text', text: this.#partialText }],
      } as AgentInputItem);
    }
    const kept = withoutUnansweredCalls([...added.map((entry) => entry.item), ...more]);
    return kept.map((item) => ({ item, json: encodeJson(item, 'item') }));
  }

  /** Resolves whether this write closed the run (a sweep may have meanwhile), false if it never got through. */
  async #retryEnd(end: EndRunArgs, firstError: unknown): Promise<boolean> {
    let lastError = firstError;
    for (const delay of [100, 500, 2_000]) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      try {
        return await endRunWithoutTurn(this.db, end);
      } catch (error) {
        lastError = error;
      }
    }
    this.#settings.logger.error(`Could not record the end of run ${this.runId}; its lease will expire by itself`, {
      error: String(lastError),
    });
    return false;
  }

  /** This stretch's usage: the run state's totals less what earlier stretches recorded. */
  #usageDelta(usage: Partial<Usage> | undefined): Usage {
    const total = usageOf(usage);
    const before = this.#usageBefore;
    return {
      requests: Math.max(total.requests - before.requests, 0),
      inputTokens: Math.max(total.inputTokens - before.inputTokens, 0),
      outputTokens: Math.max(total.outputTokens - before.outputTokens, 0),
      totalTokens: Math.max(total.totalTokens - before.totalTokens, 0),
    };
  }

  #stopWatching(): void {
    if (this.#renewal) clearInterval(this.#renewal);
    if (this.#timeout) clearTimeout(this.#timeout);
    this.#unwatchCancel?.();
    this.#renewal = undefined;
    this.#timeout = undefined;
    this.#unwatchCancel = undefined;
  }

  /**
   * The run's end is recorded (or could not be): followers here get its closing events, and
   * `onRunFinish` the final record, once any retry of that write is over (drain() waits for it).
   */
  #end(closing: readonly RecordedRunEvent[], closedHere: boolean | Promise<boolean>): void {
    this.#ended = true;
    this.#recorder.publishEnd(closing);
    activeRuns.remove(this);
    // Only the writer that closed the run reports it: one that lost its lease was closed (and
    // reported) by whoever expired it.
    const { hooks, logger } = this.#settings;
    if (!hooks.onRunFinish) return;
    this.settled = Promise.all([this.settled, closedHere]).then(([, closed]) =>
      closed ? callRunHook(hooks.onRunFinish, 'onRunFinish', this.db, this.runId, logger) : undefined,
    );
  }
}

/** A run's session state from what the statement that started (or resumed) it read. */
function stateOf(loaded: LoadedState): SessionState {
  const object = (value: unknown) => {
    const decoded = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
    return decoded && typeof decoded === 'object' && !Array.isArray(decoded) ? (decoded as Record<string, StateValue>) : {};
  };
  return new SessionState(object(loaded.state), object(loaded.userState));
}

/** Tool calls and failures, by tool name, as `agent_runs.tool_calls` keeps them. */
export type ToolStats = Record<string, { calls: number; failures: number }>;

function usageJson(usage: Usage) {
  return {
    requests: usage.requests,
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    total_tokens: usage.totalTokens,
  };
}

/** A pending approval as clients see it. */
function pendingApprovalOf(item: RunToolApprovalItem): PendingApproval {
  const raw = item.rawItem as { callId?: string; id?: string; name?: string; arguments?: string; action?: unknown };
  return {
    call_id: raw.callId ?? raw.id ?? '',
    tool_name: item.name ?? raw.name ?? item.rawItem.type,
    arguments: item.arguments ?? raw.arguments ?? (raw.action === undefined ? '' : JSON.stringify(raw.action)),
    agent_name: item.agent.name,
  };
}

/** A pending approval as stored: what clients see, and the call's item type (to close it). */
function storedApprovalOf(item: RunToolApprovalItem) {
  return { ...pendingApprovalOf(item), type: item.rawItem.type };
}

/** The error a run answers with when it no longer holds its chat. */
function leaseError(reason: 'lost' | 'lease_lost' | 'chat_deleted'): AgentRouterError {
  return reason === 'chat_deleted' ? new ChatDeletedError() : new LeaseLostError();
}

/**
 * JSON of something the run produced (not the client's input): if it cannot be encoded, that is
 * the server's failure (500), not a bad request.
 */
function encodeOwnJson(value: unknown, what: string, tagged = true): string {
  try {
    return tagged ? encodeTaggedJson(value, what) : encodeJson(value, what);
  } catch (error) {
    throw new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
  }
}
