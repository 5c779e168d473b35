import type { Runner } from '@openai/agents';
import type { Request } from 'express';
import { z } from 'zod';
import type { CreateStore } from '../chats/chat-store.js';
import { ConfigurationError } from '../errors.js';
import { describe, functionOption, loggerOption, parseOptions } from '../http/factory-options.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import type { GetUserId } from '../http/request-context.js';
import type { AgentMemoriesOptions } from '../memories/recall-into-instructions.js';
import type { RunIds } from '../runs/run-engine.js';
import type { RunHooks } from '../runs/run-hooks.js';
import { initialStateOption, type InitialState } from '../state/initial-state.js';
import { describeInvalidId } from '../session/session-id.js';

export interface AgentRouterOptions<TContext = unknown> {
  /** Who is calling, as for the chat router. Defaults to one owner, "anonymous" (with a warning). */
  getUserId?: GetUserId;
  /** The SDK's `maxTurns` for each run. Defaults to the SDK's (10). */
  maxTurns?: number;
  /**
   * The run context handed to tools, guardrails and dynamic instructions:
   * `(req, { userId, sessionId, runId }) => context`, sync or async, called once per run (and for
   * a decision on tool approvals, with the deciding request: its context is the resumed run's).
   * The second argument is what the router resolved: the caller, the chat and the new run's id.
   */
  context?: (req: Request, ids: RunIds) => TContext | Promise<TContext>;
  /** An SDK `Runner` (for a model provider or run configuration). Defaults to the SDK's `run()`. */
  runner?: Runner;
  /**
   * The most items of history the model is sent (the store keeps everything): the newest items,
   * cut only where nothing is torn apart.
   *
   * - Every tool output comes with its call, and every call whose output is stored comes with
   *   that output, matched by call id: function calls (handoffs included), computer, shell,
   *   apply_patch, program and client tool-search calls, hosted MCP approval requests. Other
   *   hosted tool calls carry their own output. A call with no stored output (an approval still
   *   pending) can be in the window alone.
   * - A reasoning item comes with the rest of the model response it began, and no item of that
   *   response comes without it.
   * - The window starts at the oldest user or system message among the newest `historyLimit`
   *   items (a history that fits is sent whole); if the newest turn alone is longer, mid-turn at
   *   the oldest point among them that tears nothing apart; if there is no such point, at the
   *   newest one before them, exceeding the limit by as little as possible. It always holds the
   *   newest item, so it is never empty.
   *
   * Defaults to 1,000; `null` sends everything. The SDK spends tens of microseconds per history
   * item on every run, and a model's context window holds only so much, so sending a chat of
   * tens of thousands of items whole makes each run slow and, past the window, fail; 1,000
   * items never cuts an ordinary chat.
   */
  historyLimit?: number | null;
  /** Where warnings and 5xx errors are reported. Defaults to `console`. */
  logger?: Logger;
  /**
   * How long a run's lease on its session lasts without renewal. It is renewed every third of
   * that while the run goes on, and lapses by itself if the process dies. Defaults to 30 s.
   */
  leaseTtlMs?: number;
  /** A run on a session another run holds: `"reject"` (409, the default) or `"wait"`. */
  onBusy?: 'reject' | 'wait';
  /** With `onBusy: "wait"`, how long to wait for the lease before answering 409. Defaults to 10 s. */
  busyTimeoutMs?: number;
  /**
   * A `/stream` client that goes away mid-run: `"continue"` (the default) lets the run go on
   * (it is stored, and can be followed from anywhere); `"abort"` cancels it, as
   * `POST /chats/:chat_id/runs/:run_id/cancel` would: it is recorded as cancelled
   * (`client_disconnected`) and keeps the user's input and what the assistant had said so far.
   */
  onDisconnect?: 'continue' | 'abort';
  /** Create a chat under an unknown `session_id` instead of answering 404. Defaults to false. */
  autoCreateChats?: boolean;
  /** Largest JSON body the router parses itself. Defaults to `'1mb'`. */
  bodyLimit?: string | number;
  /** Interval of the comment line that keeps idle event streams open. Defaults to 15 s. */
  heartbeatMs?: number;
  /**
   * The longest a run may take: then it is aborted (504 `run_timeout`) and its lease released,
   * so that a tool or model call that hangs cannot lock its chat for good. Defaults to 10 minutes.
   */
  runTimeoutMs?: number;
  /**
   * Which items a request's `input` may hold when it is a list: `"user-messages"` (the default)
   * accepts user messages only, so that a client cannot write system or developer messages, tool
   * results or reasoning into a chat's history; `"any"` accepts every `AgentInputItem`.
   */
  acceptInputItems?: 'user-messages' | 'any';
  /**
   * The chat store that decides who may run on a chat and creates new chats, as the chat
   * router's option of the same name: pass the same function to both routers. The store is asked
   * before the lease is taken (`getChat`, or `createChat` for a new chat or with
   * `autoCreateChats`); leases, run records and the turn write stay on the library's tables.
   * Defaults to the owner-only rule of `PostgresChatStore`, applied inside the lease statement.
   */
  createStore?: CreateStore;
  /**
   * Whether `GET {prefix}/info` shows the agent's instructions. They are often a private system
   * prompt that any signed-in user could otherwise read, so the field is left out of the answer
   * unless this is `true`. Defaults to false.
   */
  exposeInstructions?: boolean;
  /**
   * How long the events of a finished run are kept for followers (all but its terminal event,
   * which tells a late follower how the run ended). The router's sweep prunes older ones; the run
   * record and the chat's items stay. Defaults to 24 hours.
   */
  eventRetentionMs?: number;
  /**
   * The session state of a chat this router creates (a run without `session_id`, an unknown one
   * with `autoCreateChats`, a new `useChat` id): an object, or `(req) => object`, sync or async.
   * Defaults to `{}`. Tools read and change it with `sessionState(runContext)`.
   */
  initialState?: InitialState;
  /**
   * Whether a run's events are written to PostgreSQL while it goes on. With `false`, only its
   * first and terminal events are (with the run record, as always): followers on this instance
   * still get every event, followers elsewhere only the start and the end. For benchmarks, or
   * apps that never follow or resume runs. Defaults to true.
   */
  recordEvents?: boolean;
  /**
   * How long a run may wait for a tool approval: then the sweep closes it as failed
   * (`approval_expired`), answers its waiting calls as not run and frees its chat. Defaults to no
   * limit.
   */
  approvalTimeoutMs?: number;
  /**
   * Long-term memories of the user (kept by `rememberTool()`, across chats): with
   * `{ recall: { topK: 5 } }`, each run adds to the agent's instructions the `topK` memories of
   * the run's user that best match the newest user message. Defaults to none.
   */
  memories?: AgentMemoriesOptions;
  /**
   * Called once per run, once it is recorded and holds its chat, before the agent starts, with
   * its record (as `GET /chats/:id/runs/:run_id` answers it, plus `user_id`). Awaited; an error
   * it throws is logged and the run goes on. For audit, billing and metrics. Defaults to none.
   */
  onRunStart?: RunHooks['onRunStart'];
  /**
   * Called once per run when its end is recorded (completed, failed or cancelled; not while it
   * waits for approval), with its final record: usage of every stretch, duration, error. Not
   * awaited by the response; `drain()` waits for it; an error it throws is logged. Also called for
   * runs of this prefix that end without a router, in the process that closes them: a waiting run
   * cancelled through the chat router or past `approvalTimeoutMs`, a run whose process died.
   * Defaults to none.
   */
  onRunFinish?: RunHooks['onRunFinish'];
}

/** The `historyLimit` a router has unless told otherwise. */
export const DEFAULT_HISTORY_LIMIT = 1_000;

const optionsSchema = z.strictObject({
  getUserId: functionOption<GetUserId>().optional(),
  maxTurns: z.number().int().min(1).optional(),
  context: functionOption<(req: Request, ids: RunIds) => unknown>().optional(),
  runner: z
    .custom<Runner>(
      (value) => typeof (value as { run?: unknown } | null)?.run === 'function',
      'must be an SDK Runner (new Runner({ ... }))',
    )
    .optional(),
  historyLimit: z.number().int().min(1).nullable().optional(),
  logger: loggerOption.optional(),
  leaseTtlMs: z.number().int().min(100).optional(),
  onBusy: z.enum(['reject', 'wait']).optional(),
  busyTimeoutMs: z.number().int().min(0).optional(),
  onDisconnect: z.enum(['continue', 'abort']).optional(),
  autoCreateChats: z.boolean().optional(),
  bodyLimit: z.union([z.string().min(1), z.number().int().positive()]).optional(),
  heartbeatMs: z.number().int().min(10).optional(),
  runTimeoutMs: z.number().int().min(1).optional(),
  acceptInputItems: z.enum(['user-messages', 'any']).optional(),
  createStore: functionOption<CreateStore>().optional(),
  exposeInstructions: z.boolean().optional(),
  eventRetentionMs: z.number().int().min(1).optional(),
  recordEvents: z.boolean().optional(),
  initialState: initialStateOption.optional(),
  approvalTimeoutMs: z.number().int().min(1).optional(),
  memories: z
    .strictObject({ recall: z.strictObject({ topK: z.number().int().min(1).max(50).optional() }).optional() })
    .optional(),
  onRunStart: functionOption<NonNullable<RunHooks['onRunStart']>>().optional(),
  onRunFinish: functionOption<NonNullable<RunHooks['onRunFinish']>>().optional(),
});

/** The options with their defaults, as the router uses them. */
export type AgentRouterConfig = ReturnType<typeof resolveOptions>;

/** Checks the factory's arguments and options once, at start-up, and fills in the defaults. */
export function resolveOptions(agent: unknown, prefix: unknown, getDb: unknown, options: unknown) {
  validateArguments(agent, prefix, getDb);
  const config = parseOptions('createAgentRouter', optionsSchema, options);
  return {
    ...config,
    logger: (config.logger as Logger | undefined) ?? consoleLogger,
    // null: the whole history (the engine's "no limit").
    historyLimit: config.historyLimit === null ? undefined : (config.historyLimit ?? DEFAULT_HISTORY_LIMIT),
    leaseTtlMs: config.leaseTtlMs ?? 30_000,
    onBusy: config.onBusy ?? 'reject',
    busyTimeoutMs: config.busyTimeoutMs ?? 10_000,
    onDisconnect: config.onDisconnect ?? 'continue',
    heartbeatMs: config.heartbeatMs ?? 15_000,
    runTimeoutMs: config.runTimeoutMs ?? 600_000,
    acceptAnyItem: config.acceptInputItems === 'any',
    autoCreateChats: config.autoCreateChats ?? false,
    bodyLimit: config.bodyLimit ?? '1mb',
    eventRetentionMs: config.eventRetentionMs ?? 24 * 60 * 60 * 1000,
    recordEvents: config.recordEvents ?? true,
  };
}

/** A valid prefix: `/name` segments of letters, digits and `. _ ~ -` (the OpenAPI document checks its prefixes with it too). */
export const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

function validateArguments(agent: unknown, prefix: unknown, getDb: unknown): void {
  const candidate = agent as { name?: unknown; clone?: unknown } | null;
  if (!candidate || typeof candidate.name !== 'string' || typeof candidate.clone !== 'function') {
    throw new ConfigurationError(
      `createAgentRouter(agent, prefix, getDb): agent must be an Agent from @openai/agents (new Agent({ name, ... })), got ${describe(agent)}.`,
    );
  }
  // The name is stored with every run and item (varchar(255)): a bad one would fail every request.
  const badName = describeInvalidId(candidate.name);
  if (badName) throw new ConfigurationError(`createAgentRouter: the agent's name ${badName}; give the Agent a shorter, plain name.`);
  if (typeof prefix !== 'string') {
    throw new ConfigurationError(`createAgentRouter: prefix must be a string such as '/assistant', got ${describe(prefix)}.`);
  }
  if (!PREFIX.test(prefix)) {
    const suggestion = `/${prefix.split('/').filter(Boolean).join('/').replace(/[^A-Za-z0-9._~/-]/g, '-')}`;
    throw new ConfigurationError(
      `createAgentRouter: prefix ${JSON.stringify(prefix)} must start with '/', must not end with '/', and may hold ` +
        `only letters, digits and . _ ~ - between slashes. Pass ${JSON.stringify(suggestion === '/' ? '/agent' : suggestion)} instead.`,
    );
  }
  if (typeof getDb !== 'function') {
    throw new ConfigurationError(
      `createAgentRouter(agent, prefix, getDb): getDb must be a function (req) => Kysely, got ${describe(getDb)}. ` +
        'Pass () => db to use one database for every request.',
    );
  }
}

