import type { Agent } from '@openai/agents';
import express, { type Request, type Response, type Router } from 'express';
import type { AnyKysely } from '../db/schema.js';
import { AgentRouterError, ClientDisconnectedError, ShuttingDownError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { jsonBody } from '../http/json-body.js';
import { emptySegmentUnder, endpointNotFound, methodNotAllowed } from '../http/method-not-allowed.js';
import { resolveDb, resolveUserId, warnAnonymous, type GetDb } from '../http/request-context.js';
import { sendRunEvents } from '../http/run-event-stream.js';
import { noQuerySchema, parseRequest } from '../http/validation.js';
import { recallIntoInstructions } from '../memories/recall-into-instructions.js';
import { pruneRunEvents } from '../runs/event-queries.js';
import { followRun } from '../runs/follow-run.js';
import { resumeRun } from '../runs/run-control.js';
import { ActiveRun, type RunEngineSettings, type RunIds, type RunOutcome } from '../runs/run-engine.js';
import type { BackgroundRunResponseBody, RunResponseBody } from '../runs/run-payloads.js';
import { registerRunHooks } from '../runs/run-hooks.js';
import { expireStaleRuns, expireWaitingRuns } from '../runs/run-queries.js';
import { PostgresChatStore } from '../chats/postgres-chat-store.js';
import { agentInfo } from './agent-info.js';
import { addAiSdkRoutes } from './ai-sdk-routes.js';
import { resolveInitialState } from '../state/initial-state.js';
import { resolveOptions, type AgentRouterOptions } from './agent-router-options.js';
import { InFlightRuns, type InFlightRun } from './in-flight-runs.js';
import { parseDecisionsBody, parseRunBody, runIdParamsSchema } from './request-bodies.js';

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
   * 10 s) for the runs in progress (background ones included) to finish, then cancels the rest,
   * which are recorded as cancelled with their leases released. Call it right after
   * `server.close()` (without waiting for its callback: open event streams hold it back) and
   * before closing the database.
   */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>;
  /** True from the moment `drain()` is called: the router takes no new runs (for health checks). */
  readonly draining: boolean;
};

/** How often the router closes stale runs, prunes old events and expires waiting approvals. */
const SWEEP_MS = 60_000;

/**
 * Serves an OpenAI Agents SDK agent over HTTP, with its conversation memory in PostgreSQL:
 * `POST {prefix}/run` (optionally in the background), `POST {prefix}/stream` (server-sent
 * events), `POST {prefix}/runs/:run_id/approvals` (decide the tool calls a run waits for) and
 * `GET {prefix}/info`. Agents mounted on different prefixes share sessions: a chat id works with
 * any of them.
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
  const config = resolveOptions(agent, prefix, getDb, options);
  const { logger } = config;
  if (!config.getUserId) warnAnonymous(logger, `createAgentRouter(${prefix})`);
  const settings: RunEngineSettings = {
    agent,
    prefix,
    runner: config.runner,
    maxTurns: config.maxTurns,
    historyLimit: config.historyLimit,
    leaseTtlMs: config.leaseTtlMs,
    onBusy: config.onBusy,
    busyTimeoutMs: config.busyTimeoutMs,
    runTimeoutMs: config.runTimeoutMs,
    logger,
    recordEvents: config.recordEvents,
    hooks: { onRunStart: config.onRunStart, onRunFinish: config.onRunFinish },
    ...(config.memories?.recall
      ? { callModelInputFilter: recallIntoInstructions({ topK: config.memories.recall.topK ?? 5, logger }) }
      : {}),
  };
  // Runs of this prefix that end without a router here (cancelled while waiting, expired) too.
  if (config.onRunFinish) registerRunHooks(prefix, settings.hooks, logger);
  const body = jsonBody(config.bodyLimit);
  const inFlight = new InFlightRuns();
  let lastSweep = 0;

  /** Who is calling, on which database, with what run context: the same for every endpoint. */
  async function requestContext(req: Request) {
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
    const context = (ids: RunIds) => (config.context ? config.context(req, ids) : undefined);
    const initialState = await resolveInitialState(config.initialState, req);
    return { userId, db, context, store: config.createStore?.(db, req), initialState };
  }

  /**
   * Counts a request for drain() from before its run takes the lease until the run's end is
   * recorded (background runs, and retries of that write, included).
   */
  async function inFlightRun(start: (entry: InFlightRun) => Promise<ActiveRun>): Promise<ActiveRun> {
    const entry = inFlight.enter();
    let run: ActiveRun;
    try {
      run = await start(entry);
    } catch (error) {
      entry.leave();
      throw error;
    }
    void run.outcome.then(() => run.settled).finally(() => entry.leave());
    return run;
  }

  /** Closes runs left behind by dead processes, prunes old events: now and then, off the request path. */
  function sweep(db: AnyKysely): void {
    if (Date.now() - lastSweep < SWEEP_MS) return;
    lastSweep = Date.now();
    void (async () => {
      await expireStaleRuns(db);
      await pruneRunEvents(db, config.eventRetentionMs);
      if (config.approvalTimeoutMs !== undefined) await expireWaitingRuns(db, config.approvalTimeoutMs);
    })().catch((error) => logger.warn('Could not sweep runs', { error: String(error) }));
  }

  /** Answers with how a run ended, as `/run` does. */
  async function answerOutcome(res: Response, run: ActiveRun): Promise<void> {
    const outcome: RunOutcome = await run.outcome;
    if ('error' in outcome) throw outcome.error;
    res.json({ success: true, ...outcome.answer } satisfies RunResponseBody);
  }

  /** Answers with a run's events as they happen, as `/stream` does: those of this stretch. */
  async function streamRun(req: Request, res: Response, run: ActiveRun, db: AnyKysely): Promise<void> {
    const clientLeft = () => {
      if (config.onDisconnect === 'abort') run.cancel(new ClientDisconnectedError());
    };
    await sendRunEvents(
      req,
      res,
      config.heartbeatMs,
      (onEvent, signal) => followRun({ db, runId: run.runId, afterId: run.firstEventId - 1, logger, onEvent, signal }),
      clientLeft,
    );
  }

  const router = express.Router();

  router.post(
    `${prefix}/run`,
    body,
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      const input = parseRunBody(req.body, config.acceptAnyItem);
      const { userId, db, context, store, initialState } = await requestContext(req);
      const run = await inFlightRun((entry) =>
        ActiveRun.start(settings, {
          db,
          userId,
          input: input.input,
          sessionId: input.session_id,
          mode: input.background ? 'background' : 'wait',
          store,
          initialState,
          autoCreateChats: config.autoCreateChats,
          context,
          signal: entry.signal,
        }),
      );
      sweep(db);
      if (input.background) {
        res.status(202).json({
          success: true,
          status: 'running',
          run_id: run.runId,
          session_id: run.chatId,
        } satisfies BackgroundRunResponseBody);
        return;
      }
      await answerOutcome(res, run);
    }),
  );

  router.post(
    `${prefix}/stream`,
    body,
    asyncHandler(async (req, res) => {
      // Until the lease is held, errors are ordinary JSON answers (400, 401, 404, 409...).
      parseRequest(noQuerySchema, req.query, 'query');
      const input = parseRunBody(req.body, config.acceptAnyItem);
      if (input.background) throw new AgentRouterError('"background" is for /run; /stream streams the run itself.', { status: 400, code: 'invalid_request' });
      const { userId, db, context, store, initialState } = await requestContext(req);
      const run = await inFlightRun((entry) =>
        ActiveRun.start(settings, {
          db,
          userId,
          input: input.input,
          sessionId: input.session_id,
          mode: 'stream',
          store,
          initialState,
          autoCreateChats: config.autoCreateChats,
          context,
          signal: entry.signal,
        }),
      );
      sweep(db);
      await streamRun(req, res, run, db);
    }),
  );

  router.post(
    `${prefix}/runs/:run_id/approvals`,
    body,
    asyncHandler(async (req, res) => {
      const { run_id: runId } = parseRequest(runIdParamsSchema, req.params, 'path');
      parseRequest(noQuerySchema, req.query, 'query');
      const decisions = parseDecisionsBody(req.body);
      const { userId, db, context, store } = await requestContext(req);
      const run = await inFlightRun((entry) =>
        resumeRun(settings, {
          db,
          userId,
          runId,
          decisions: decisions.decisions,
          store,
          context,
          signal: entry.signal,
        }),
      );
      if (decisions.stream) await streamRun(req, res, run, db);
      else await answerOutcome(res, run);
    }),
  );

  addAiSdkRoutes(router, body, {
    prefix,
    settings,
    heartbeatMs: config.heartbeatMs,
    logger,
    requestContext,
    storeOf: (db, req) => config.createStore?.(db, req) ?? new PostgresChatStore({ db }),
    inFlightRun,
  });

  router.get(
    `${prefix}/info`,
    asyncHandler(async (req, res) => {
      parseRequest(noQuerySchema, req.query, 'query');
      await resolveUserId(config.getUserId, req, logger);
      // Lists the tools of the agent's MCP servers, each within a timeout (agent-info.ts).
      res.json(await agentInfo(agent, prefix, { exposeInstructions: config.exposeInstructions ?? false }));
    }),
  );

  router.all(`${prefix}/run`, methodNotAllowed('POST'));
  router.all(`${prefix}/stream`, methodNotAllowed('POST'));
  router.all(`${prefix}/runs/:run_id/approvals`, methodNotAllowed('POST'));
  router.all(`${prefix}/info`, methodNotAllowed('GET'));
  // A run or chat id left out ({prefix}/runs//approvals, {prefix}/chat//stream): the envelope's
  // 404, not the host's page.
  router.all(emptySegmentUnder(`${prefix}/runs`), endpointNotFound());
  router.all(emptySegmentUnder(`${prefix}/chat`), endpointNotFound());
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

  return Object.defineProperty(Object.assign(router, { drain }), 'draining', {
    get: () => inFlight.draining,
    enumerable: true,
  }) as AgentRouter;
}

export type { AgentRouterOptions } from './agent-router-options.js';
