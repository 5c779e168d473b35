import {
  protocol,
  run as runWithDefaultRunner,
  type Agent,
  type AgentInputItem,
  type Runner,
  type RunStreamEvent,
} from '@openai/agents';
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import type { CreateStore } from '../chats/chat-store.js';
import type { AnyKysely } from '../db/schema.js';
import {
  AgentRouterError,
  ClientDisconnectedError,
  ConfigurationError,
  InvalidRequestError,
  ShuttingDownError,
} from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { describeError, errorMiddleware } from '../http/error-middleware.js';
import { describe, functionOption, loggerOption, parseOptions } from '../http/factory-options.js';
import { jsonBody } from '../http/json-body.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import { resolveDb, resolveUserId, warnAnonymous, type GetDb, type GetUserId } from '../http/request-context.js';
import { idSchema, jsonDepth, parseRequest } from '../http/validation.js';
import { describeInvalidId } from '../session/session-id.js';
import { agentInfo } from './agent-info.js';
import { EventStream } from './event-stream.js';
import { InFlightRuns, type InFlightRun } from './in-flight-runs.js';
import { expireStaleRuns } from './run-queries.js';
import { usageOfFailedRun } from './run-errors.js';
import { RouterRun, type FinishedRun } from './router-run.js';
import type { RunRequestBody, RunResponseBody } from './run-payloads.js';

export interface AgentRouterOptions<TContext = unknown> {
  /** Who is calling, as for the chat router. Defaults to one owner, "anonymous" (with a warning). */
  getUserId?: GetUserId;
  /** The SDK's `maxTurns` for each run. Defaults to the SDK's (10). */
  maxTurns?: number;
  /** The run context handed to tools, guardrails and instructions: `(req) => context`. */
  context?: (req: Request) => TContext | Promise<TContext>;
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
   * Defaults to the whole history.
   */
  historyLimit?: number;
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
   * A `/stream` client that goes away mid-run: `"continue"` (the default) finishes the run and
   * stores it; `"abort"` aborts the run and records it as cancelled.
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
}

/** What `drain()` did. */
export interface DrainResult {
  /** Runs that finished (stored or failed on their own) while draining. */
  finished: number;
  /** Runs still going at the timeout: aborted, recorded as cancelled, their leases released. */
  cancelled: number;
}

/** The router, plus `drain()` for a graceful shutdown. */
export type AgentRouter = Router & {
  /**
   * Stops taking runs (new ones answer 503 `shutting_down`), waits up to `timeoutMs` (default
   * 10 s) for the runs in progress to finish, then aborts the rest, which are recorded as
   * cancelled with their leases released. Call it right after `server.close()` (without
   * waiting for its callback: open event streams hold it back) and before closing the database.
   */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>;
};

const optionsSchema = z.strictObject({
  getUserId: functionOption<GetUserId>().optional(),
  maxTurns: z.number().int().min(1).optional(),
  context: functionOption<(req: Request) => unknown>().optional(),
  runner: z
    .custom<Runner>(
      (value) => typeof (value as { run?: unknown } | null)?.run === 'function',
      'must be an SDK Runner (new Runner({ ... }))',
    )
    .optional(),
  historyLimit: z.number().int().min(1).optional(),
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
});

/** Largest accepted nesting of the input, before any schema walks it. */
const MAX_INPUT_DEPTH = 64;

/**
 * `POST {prefix}/run` and `POST {prefix}/stream`, for hosts that validate the same body
 * elsewhere. Typed by its plain body type, so that the declaration files stay readable.
 */
export const runBodySchema: z.ZodType<RunRequestBody> = z.strictObject({
  input: z.union([z.string().min(1), z.array(protocol.ModelItem).min(1).max(1000)]),
  session_id: idSchema.optional(),
});

/** The parts of the SDK's StreamedRunResult the router uses. */
type StreamedRun = FinishedRun &
  AsyncIterable<RunStreamEvent> & { completed: Promise<void>; error: unknown; cancelled: boolean };

const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;
const STALE_RUN_SWEEP_MS = 60_000;

/**
 * Serves an OpenAI Agents SDK agent over HTTP, with its conversation memory in PostgreSQL:
 * `POST {prefix}/run`, `POST {prefix}/stream` (server-sent events) and `GET {prefix}/info`.
 * Agents mounted on different prefixes share sessions: a chat id works with any of them.
 *
 * ```ts
 * import express from 'express';
 * import { createAgentRouter, createChatRouter } from 'express-agent-router';
 *
 * const app = express();
 * app.use(createAgentRouter(dndAgent, '/dnd', () => db, { getUserId }));
 * app.use(createAgentRouter(worldAgent, '/world', () => db, { getUserId }));
 * app.use(createChatRouter(() => db, { getUserId }));
 * ```
 */
export function createAgentRouter<TContext = unknown>(
  agent: Agent<TContext, any>,
  prefix: string,
  getDb: GetDb,
  options?: AgentRouterOptions<TContext>,
): AgentRouter {
  validateArguments(agent, prefix, getDb);
  const config = parseOptions('createAgentRouter', optionsSchema, options);
  const logger = (config.logger as Logger | undefined) ?? consoleLogger;
  if (!config.getUserId) warnAnonymous(logger, `createAgentRouter(${prefix})`);
  const settings = {
    leaseTtlMs: config.leaseTtlMs ?? 30_000,
    onBusy: config.onBusy ?? 'reject',
    busyTimeoutMs: config.busyTimeoutMs ?? 10_000,
    onDisconnect: config.onDisconnect ?? 'continue',
    heartbeatMs: config.heartbeatMs ?? 15_000,
    runTimeoutMs: config.runTimeoutMs ?? 600_000,
  } as const;
  const acceptAnyItem = config.acceptInputItems === 'any';
  const execute = (input: string | AgentInputItem[], runOptions: Record<string, unknown>): Promise<unknown> =>
    config.runner
      ? config.runner.run(agent, input, runOptions as never)
      : runWithDefaultRunner(agent, input, runOptions as never);
  const body = jsonBody(config.bodyLimit ?? '1mb');
  let lastSweep = 0;
  const inFlight = new InFlightRuns();

  /** Everything a run needs before it starts: who, which database, what input, the lease. */
  async function begin(req: Request, streamed: boolean, entry: InFlightRun) {
    const input = parseRunBody(req.body, acceptAnyItem);
    const userId = await resolveUserId(config.getUserId, req, logger);
    const db = await resolveDb(getDb, req);
    if (db.isTransaction) {
      // Its lease would sit in an uncommitted transaction that no other request can see.
      throw new AgentRouterError('An internal error occurred.', {
        status: 500,
        code: 'internal_error',
        cause: new Error('getDb returned a transaction: the agent router needs the database itself (only the chat router accepts a transaction).'),
      });
    }
    const context = config.context ? await config.context(req) : undefined;
    const routerRun = await RouterRun.begin({
      db,
      userId,
      agentName: agent.name,
      input: input.input,
      sessionId: input.session_id,
      streamed,
      autoCreateChats: config.autoCreateChats ?? false,
      historyLimit: config.historyLimit,
      logger,
      store: config.createStore?.(db, req),
      signal: entry.signal,
      ...settings,
    });
    sweepStaleRuns(db);
    const runOptions = {
      session: routerRun.session,
      signal: routerRun.controller.signal,
      ...(config.maxTurns !== undefined ? { maxTurns: config.maxTurns } : {}),
      ...(context !== undefined ? { context } : {}),
    };
    return { routerRun, input: input.input, runOptions };
  }

  /**
   * Runs a handler as one in-flight request for drain(): it counts from before the lease is
   * taken until its run's end is recorded, background retries included.
   */
  async function inFlightRequest(work: (entry: InFlightRun, started: (run: RouterRun) => void) => Promise<void>) {
    const entry = inFlight.enter();
    let run: RouterRun | undefined;
    try {
      await work(entry, (started) => {
        run = started;
      });
    } finally {
      void (run?.settled ?? Promise.resolve()).finally(() => entry.leave());
    }
  }

  /** Runs left `running` by a process that died are closed now and then, off the request path. */
  function sweepStaleRuns(db: AnyKysely) {
    if (Date.now() - lastSweep < STALE_RUN_SWEEP_MS) return;
    lastSweep = Date.now();
    expireStaleRuns(db, { graceMs: 2 * settings.leaseTtlMs }).catch((error) =>
      logger.warn('Could not close stale runs', { error: String(error) }),
    );
  }

  const router = express.Router();

  router.post(
    `${prefix}/run`,
    body,
    asyncHandler((req, res) =>
      inFlightRequest(async (entry, started) => {
        const { routerRun, input, runOptions } = await begin(req, false, entry);
        started(routerRun);
        let result: FinishedRun;
        try {
          result = (await execute(input, runOptions)) as FinishedRun;
        } catch (error) {
          throw await routerRun.fail(error, usageOfFailedRun(error));
        }
        let answer;
        try {
          answer = await routerRun.complete(result);
        } catch (error) {
          throw await routerRun.fail(error, result.state.usage, result.lastAgent?.name ?? null);
        }
        res.json({ success: true, ...answer } satisfies RunResponseBody);
      }),
    ),
  );

  router.post(
    `${prefix}/stream`,
    body,
    asyncHandler((req, res) =>
      inFlightRequest(async (entry, started) => {
        // Until the lease is held, errors are ordinary JSON answers (400, 401, 404, 409...).
        const { routerRun, input, runOptions } = await begin(req, true, entry);
        started(routerRun);
        const clientLeft = () => {
          if (settings.onDisconnect === 'abort') routerRun.controller.abort(new ClientDisconnectedError());
        };
        // 'close' also follows our own end(); only a close before it means the client left. The
        // client may even have left while the lease was being taken.
        res.on('close', () => {
          if (!res.writableFinished) clientLeft();
        });
        if (req.socket.destroyed) clientLeft();
        let events: EventStream | undefined;
        let streamed: StreamedRun | undefined;
        try {
          events = new EventStream(res, settings.heartbeatMs);
          events.send('run.started', { session_id: routerRun.chatId, run_id: routerRun.runId, agent_name: agent.name });
          streamed = (await execute(input, { ...runOptions, stream: true })) as StreamedRun;
          let currentAgent = agent.name;
          for await (const event of streamed) {
            for (const [name, data] of toStreamEvents(event)) {
              if (name === 'agent.updated') {
                const agentName = (data as { agent_name: string }).agent_name;
                if (agentName === currentAgent) continue;
                currentAgent = agentName;
              }
              events.send(name, data);
            }
          }
          await streamed.completed;
          if (routerRun.controller.signal.aborted) throw routerRun.controller.signal.reason;
          if (streamed.error) throw streamed.error;
          if (streamed.cancelled) throw new ClientDisconnectedError();
          events.send('run.completed', await routerRun.complete(streamed));
        } catch (error) {
          const failure = await routerRun.fail(
            error,
            streamed?.state.usage ?? usageOfFailedRun(error),
            streamed?.lastAgent?.name ?? null,
          );
          if (failure.status >= 500) {
            logger.error(`${req.method} ${req.originalUrl} failed: ${failure.code}`, {
              error: describeError(failure.cause ?? error),
            });
          }
          events?.send('run.failed', { error: { code: failure.code, message: failure.message } });
        } finally {
          events?.end();
        }
      }),
    ),
  );

  router.get(
    `${prefix}/info`,
    asyncHandler(async (req, res) => {
      await resolveUserId(config.getUserId, req, logger);
      // Lists the tools of the agent's MCP servers, each within a timeout (agent-info.ts).
      res.json(await agentInfo(agent, prefix, { exposeInstructions: config.exposeInstructions ?? false }));
    }),
  );

  router.all(`${prefix}/run`, methodNotAllowed('POST'));
  router.all(`${prefix}/stream`, methodNotAllowed('POST'));
  router.all(`${prefix}/info`, methodNotAllowed('GET'));
  router.use(errorMiddleware(logger));

  async function drain({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<DrainResult> {
    inFlight.startDraining();
    const started = inFlight.size;
    if (await inFlight.whenIdle(timeoutMs)) return { finished: started, cancelled: 0 };
    // The rest are aborted (each records itself as cancelled and releases its lease); a call
    // that ignores the abort gets a few more seconds, after which its lease simply expires.
    const cancelled = inFlight.abortAll(new ShuttingDownError('The server shut down before the run finished.'));
    await inFlight.whenIdle(5_000);
    return { finished: started - cancelled, cancelled };
  }

  return Object.assign(router, { drain });
}

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

function parseRunBody(body: unknown, acceptAnyItem: boolean) {
  if (jsonDepth(body) > MAX_INPUT_DEPTH) {
    throw new InvalidRequestError(`Invalid body: it must not be nested deeper than ${MAX_INPUT_DEPTH} levels.`);
  }
  const parsed = parseRequest(runBodySchema, body ?? {}, 'body');
  if (!acceptAnyItem && Array.isArray(parsed.input)) {
    const index = parsed.input.findIndex((item) => !('role' in item && item.role === 'user'));
    if (index >= 0) {
      throw new InvalidRequestError(
        `Invalid body: input.${index} is not a user message. Only user messages are accepted here (the router's acceptInputItems option).`,
        [{ path: ['input', index], code: 'custom', message: 'Only user messages are accepted' }],
      );
    }
  }
  return parsed;
}

/** The SDK's stream events, as the router's SSE events. */
export function toStreamEvents(event: RunStreamEvent): [string, unknown][] {
  if (event.type === 'raw_model_stream_event') {
    const data = event.data as { type: string; delta?: string };
    return data.type === 'output_text_delta' && data.delta ? [['text.delta', { delta: data.delta }]] : [];
  }
  if (event.type === 'agent_updated_stream_event') {
    return [['agent.updated', { agent_name: event.agent.name }]];
  }
  if (event.name === 'tool_called') {
    const raw = event.item.rawItem as { type: string; name?: string; arguments?: string; callId?: string; id?: string; action?: unknown };
    return [[
      'tool.called',
      {
        name: raw.name ?? raw.type,
        arguments: raw.arguments ?? (raw.action === undefined ? '' : JSON.stringify(raw.action)),
        call_id: raw.callId ?? raw.id ?? null,
      },
    ]];
  }
  if (event.name === 'tool_output') {
    const item = event.item as { rawItem: { callId?: string; id?: string }; output?: unknown };
    return [[
      'tool.output',
      {
        call_id: item.rawItem.callId ?? item.rawItem.id ?? null,
        output: typeof item.output === 'string' ? item.output : JSON.stringify(item.output ?? null),
      },
    ]];
  }
  return [];
}
