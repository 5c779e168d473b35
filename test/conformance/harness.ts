import { randomUUID } from 'node:crypto';
import {
  isSessionHistoryRewriteAwareSession,
  isSessionHistoryTransactionAwareSession,
  MemorySession,
  run,
  RunState,
  setTracingDisabled,
  tool,
  type Agent,
  type AgentInputItem,
  type NonStreamRunOptions,
  type Runner,
  type Session,
  type SessionHistoryRewriteAwareSession,
  type SessionHistoryTransactionArgs,
  type SessionHistoryTransactionAwareSession,
} from '@openai/agents';
import type { ScriptedModel } from '@openai/agents/testing';
import { z } from 'zod';
import { expect } from 'vitest';
import type { AnyKysely } from '../../src/db/schema.js';
import { resumeRun } from '../../src/runs/run-control.js';
import { ActiveRun, type RunEngineSettings } from '../../src/runs/run-engine.js';
import { PostgresSession } from '../../src/session/postgres-session.js';

/**
 * The conformance harness: a scenario is written once, as a function of a {@link Backend}, and
 * played against the SDK's MemorySession (the reference) and against PostgresSession on real
 * PostgreSQL. What each play observed, its {@link Outcome}, must be equal.
 */

// The runner would otherwise try to export traces (and warn about the missing API key).
setTracingDisabled(true);

export interface Backend {
  /**
   * A session for the conversation `conversation` (default "main"). PostgresSession: a new object
   * on every call, as a web app creates one per request, so nothing can survive in the object.
   * MemorySession keeps its history in the object, so it hands back the one instance.
   */
  session(conversation?: string): Session;
}

export function memoryBackend(): Backend {
  const sessions = new Map<string, MemorySession>();
  return {
    session(conversation = 'main') {
      let session = sessions.get(conversation);
      if (!session) sessions.set(conversation, (session = new MemorySession({ sessionId: conversation })));
      return session;
    },
  };
}

export function postgresBackend(
  db: AnyKysely,
  wrap: (session: PostgresSession) => Session = (session) => session,
): Backend {
  // Every play gets its own session ids, so plays never see each other's rows.
  const prefix = randomUUID();
  return {
    session: (conversation = 'main') =>
      wrap(new PostgresSession({ db, sessionId: `${prefix}:${conversation}` })),
  };
}

/** What a play observed. Scenarios add what else they saw (final output, errors, tool runs). */
export interface Outcome {
  /** The history afterwards, read through a new session object. */
  stored: AgentInputItem[];
  /** Every model call's input (`ScriptedModel.calls[i].request.input`), model by model. */
  inputs: unknown[];
  [observation: string]: unknown;
}

export type Scenario = (backend: Backend) => Promise<Outcome>;

export async function observe(
  backend: Backend,
  models: readonly ScriptedModel[],
  observations: Record<string, unknown> = {},
  conversation = 'main',
): Promise<Outcome> {
  return {
    stored: await backend.session(conversation).getItems(),
    inputs: models.flatMap((model) => model.calls.map((call) => call.request.input)),
    ...observations,
  };
}

/**
 * Plays `scenario` against MemorySession, then PostgresSession, asserts that both outcomes are
 * equal (toEqual: object key order aside, as jsonb reorders keys), and returns them so that the
 * test can also check that the scenario did what it is named after.
 */
export async function playBoth(
  db: AnyKysely,
  scenario: Scenario,
): Promise<{ memory: Outcome; postgres: Outcome }> {
  const memory = await scenario(memoryBackend());
  const postgres = await scenario(postgresBackend(db));
  expect(postgres).toEqual(memory);
  return { memory, postgres };
}

/** The error a call threw (its class name and message), or `undefined` when it returned. */
export async function errorOf(fn: () => unknown): Promise<{ name: string; message: string } | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return { name: (error as Error).constructor.name, message: (error as Error).message };
  }
}

/** A short, readable form of a history: "user: hi", "function_call echo#c1", ... */
export function shape(items: readonly unknown[]): string[] {
  return items.map((raw) => {
    const item = raw as { type?: string; role?: string; content?: unknown; name?: string; callId?: string };
    if (item.role) {
      const content = item.content;
      const text =
        typeof content === 'string'
          ? content
          : Array.isArray(content)
            ? content.map((part: { text?: string; type: string }) => part.text ?? `[${part.type}]`).join('')
            : '';
      return `${item.role}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
    }
    return `${item.type} ${item.name ?? ''}#${item.callId ?? ''}`;
  });
}

/** What a run showed its caller, in a form two plays can compare. */
export interface RunReport {
  finalOutput?: unknown;
  lastAgent?: string;
  /** Pending approvals. */
  interruptions?: number;
  /** Streamed runs only: true after the consumer broke out or the signal aborted. */
  cancelled?: boolean;
  /** The class of the error the caller saw (thrown, or `result.error` of a stream). */
  error?: string;
}

/**
 * Runs to the end, streamed or not (draining every event of a stream), and reports what the
 * caller saw. The `state` is returned beside the report, for resuming; it is not comparable.
 */
export async function runToEnd<TAgent extends Agent<any, any>>(
  agent: TAgent,
  input: string | AgentInputItem[] | RunState<any, TAgent>,
  options: NonStreamRunOptions<any, TAgent>,
  stream = false,
): Promise<{ report: RunReport; state?: RunState<any, TAgent>; error?: unknown }> {
  try {
    if (!stream) {
      const result = await run(agent, input, options);
      const report: RunReport = {
        lastAgent: result.lastAgent?.name,
        interruptions: result.interruptions.length,
      };
      // An interrupted run has no final output (reading it logs a warning).
      if (report.interruptions === 0) report.finalOutput = result.finalOutput;
      return { report, state: result.state };
    }
    const result = await run(agent, input, { ...options, stream: true });
    for await (const _event of result) {
      // Drained only: the scenarios look at what the session stored.
    }
    await result.completed;
    const report: RunReport = {
      cancelled: result.cancelled,
      lastAgent: result.lastAgent?.name,
      interruptions: result.interruptions.length,
    };
    if (!result.cancelled && report.interruptions === 0) report.finalOutput = result.finalOutput;
    if (result.error) report.error = (result.error as Error).constructor.name;
    return { report, state: result.state };
  } catch (error) {
    return { report: { error: (error as Error).constructor.name }, error };
  }
}

export const user = (text: string): AgentInputItem => ({ type: 'message', role: 'user', content: text });

/**
 * A session with only the five basic `Session` methods: what PostgresSession would be without
 * its optional abilities. Used to show that the suite notices when an ability is missing.
 */
export function basicOnly(inner: Session): Session {
  return {
    getSessionId: () => inner.getSessionId(),
    getItems: (limit) => inner.getItems(limit),
    addItems: (items) => inner.addItems(items),
    popItem: () => inner.popItem(),
    clearSession: () => inner.clearSession(),
  };
}

/** What {@link lossyReplies} wrappers saw and still have to do, shared across session objects. */
export interface TransactionLog {
  calls: SessionHistoryTransactionArgs[];
  /** How many more replies to lose (after the call committed). */
  failuresLeft: number;
}

/**
 * Wraps a session so that, while `log.failuresLeft` is positive, a call of `method` commits and
 * then throws, as when the database committed but the reply was lost on the way back. Keeps the
 * session's optional abilities, and records every applyHistoryTransaction call in `log.calls`.
 */
export function lossyReplies(
  inner: Session,
  method: 'applyHistoryTransaction' | 'addItems',
  log: TransactionLog,
): Session {
  const loseReply = () => {
    if (log.failuresLeft <= 0) return;
    log.failuresLeft--;
    throw new Error('connection reset after commit');
  };
  const wrapper: Session & Partial<SessionHistoryTransactionAwareSession & SessionHistoryRewriteAwareSession> = {
    ...basicOnly(inner),
    addItems: async (items) => {
      await inner.addItems(items);
      if (method === 'addItems') loseReply();
    },
  };
  if (isSessionHistoryTransactionAwareSession(inner)) {
    wrapper.applyHistoryTransaction = async (args) => {
      log.calls.push(structuredClone(args));
      await inner.applyHistoryTransaction(args);
      if (method === 'applyHistoryTransaction') loseReply();
    };
  }
  if (isSessionHistoryRewriteAwareSession(inner)) {
    wrapper.applyHistoryMutations = (args) => inner.applyHistoryMutations(args);
  }
  return wrapper;
}

/** A tool that counts its runs, so that scenarios can show no tool ran twice. */
export function echoTool() {
  const runs: string[] = [];
  const echo = tool({
    name: 'echo',
    description: 'Echoes its argument.',
    parameters: z.object({ value: z.string() }),
    execute: async ({ value }) => {
      runs.push(value);
      return `echo:${value}`;
    },
  });
  return { echo, runs };
}

/** A backend whose runs are played through the router's own run engine, not a bare session. */
export interface RunBackend extends Backend {
  /** One run as the backend plays it: the SDK's run() on a session, or a router run. */
  run(
    agent: Agent<any, any>,
    input: string | AgentInputItem[],
    options?: Omit<NonStreamRunOptions<any, any>, 'session'>,
    stream?: boolean,
  ): Promise<RunReport>;
  /** Decides the tool calls the last run waits for (by call id), and resumes it. */
  decide(agent: Agent<any, any>, decisions: { call_id: string; approved: boolean; message?: string }[], stream?: boolean): Promise<RunReport>;
}

/**
 * The reference: run() on a MemorySession, as the SDK's own tests do. Decisions are applied as a
 * web app applies them: on a RunState rebuilt from the interrupted run's string.
 */
export function memoryRunBackend(): RunBackend {
  const backend = memoryBackend();
  let interrupted: string | undefined;
  const play = async (agent: Agent<any, any>, input: string | AgentInputItem[] | RunState<any, any>, options: object, stream: boolean) => {
    const { report, state } = await runToEnd(agent, input, { ...options, session: backend.session() }, stream);
    interrupted = report.interruptions ? state?.toString() : undefined;
    return report;
  };
  return {
    ...backend,
    run: (agent, input, options = {}, stream = false) => play(agent, input, options, stream),
    async decide(agent, decisions, stream = false) {
      const state = await RunState.fromString(agent, interrupted!);
      for (const decision of decisions) {
        const item = state.getInterruptions().find((candidate) => (candidate.rawItem as { callId?: string }).callId === decision.call_id)!;
        if (decision.approved) state.approve(item);
        else state.reject(item, decision.message ? { message: decision.message } : {});
      }
      return play(agent, state, {}, stream);
    },
  };
}

/**
 * Runs through the agent router's engine (`RouterRun`): its TurnSession holds back every history
 * change until the run completes, then writes the turn in the one fenced statement, or nothing
 * if the run failed. `session()` reads (and changes, as an app would between runs) the same chat
 * through a PostgresSession.
 */
export function routerRunBackend(db: AnyKysely): RunBackend {
  const prefix = randomUUID();
  const chats = new Set<string>();
  const chatId = (conversation: string) => `${prefix}:${conversation}`;
  let waitingRunId: string | undefined;
  const settings = (agent: Agent<any, any>, options: object): RunEngineSettings => ({
    agent,
    prefix: '/conformance',
    // The scenario's own run options (sessionInputCallback, maxTurns...) go through a runner.
    runner: { run: (a: Agent<any, any>, i: unknown, o: object) => run(a, i as never, { ...o, ...options } as never) } as unknown as Runner,
    maxTurns: undefined,
    historyLimit: undefined,
    leaseTtlMs: 30_000,
    onBusy: 'reject',
    busyTimeoutMs: 0,
    runTimeoutMs: 60_000,
    logger: { warn: () => {}, error: () => {} },
    recordEvents: true,
    hooks: {},
  });
  const report = async (active: ActiveRun): Promise<RunReport> => {
    const outcome = await active.outcome;
    waitingRunId = outcome.status === 'awaiting_approval' ? active.runId : undefined;
    if ('error' in outcome) return { error: errorClassOf(outcome.error), code: outcome.error.code } as RunReport;
    if (outcome.status === 'awaiting_approval') return { lastAgent: outcome.answer.agent_name, interruptions: outcome.answer.approvals.length };
    return { lastAgent: outcome.answer.agent_name, interruptions: 0, finalOutput: outcome.answer.final_output };
  };
  return {
    session: (conversation = 'main') => new PostgresSession({ db, sessionId: chatId(conversation) }),
    async run(agent, input, options = {}, stream = false) {
      const id = chatId('main');
      if (!chats.has(id)) {
        await db.insertInto('agent_chats').values({ id, user_id: 'conformance' }).onConflict((c) => c.doNothing()).execute();
        chats.add(id);
      }
      const active = await ActiveRun.start(settings(agent, options), {
        db,
        userId: 'conformance',
        input,
        sessionId: id,
        mode: stream ? 'stream' : 'wait',
        store: undefined,
        autoCreateChats: false,
        context: () => undefined,
        signal: new AbortController().signal,
      });
      return report(active);
    },
    async decide(agent, decisions) {
      const active = await resumeRun(settings(agent, {}), {
        db,
        userId: 'conformance',
        runId: waitingRunId!,
        decisions,
        store: undefined,
        context: () => undefined,
        signal: new AbortController().signal,
      });
      return report(active);
    },
  };
}

/** The class of the SDK error a router run failed with, as runToEnd reports it. */
function errorClassOf(error: { cause?: unknown }): string {
  const cause = error.cause as { constructor?: { name?: string } } | undefined;
  return cause?.constructor?.name ?? 'Error';
}
