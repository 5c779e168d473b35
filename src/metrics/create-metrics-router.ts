import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { AgentRouterError, ConfigurationError, ForbiddenError, InvalidRequestError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { describe, functionOption, loggerOption, parseOptions, pathOption } from '../http/factory-options.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { resolveDb, type GetDb } from '../http/request-context.js';
import { idSchema, parseRequest } from '../http/validation.js';
import { agentMetrics, type AgentMetrics, type AgentMetricsReport } from './agent-metrics.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus-text.js';

/** May this request read the metrics? `true` lets it; `false` answers 403. Throwing an `AgentRouterError` answers with it. */
export type AuthorizeMetrics = (req: Request) => boolean | Promise<boolean>;

export interface MetricsRouterOptions {
  /**
   * Required: who may read the metrics (they tell how the agents are used, and are not for
   * every signed-in user), e.g. `(req) => req.user?.role === 'admin'`, or a check of a scrape
   * token for Prometheus. There is no default.
   */
  authorize: AuthorizeMetrics;
  /** Where the endpoints are mounted: `{path}` (JSON) and `{path}/prometheus`. Defaults to `'/metrics'`. */
  path?: string;
  /** The window when a request gives no `since`: the last `windowMs` before `until`. Defaults to one hour. */
  windowMs?: number;
  /** Where warnings and 5xx errors are reported. Defaults to `console`. */
  logger?: Logger;
}

const optionsSchema = z.strictObject({
  authorize: functionOption<AuthorizeMetrics>(),
  path: pathOption.optional(),
  windowMs: z.number().int().min(1000).optional(),
  logger: loggerOption.optional(),
});

/** `?since=&until=&agent_name=`: ISO 8601 times (with a time zone) and an agent's name. */
export const metricsQuerySchema = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  agent_name: idSchema.optional(),
});

/** An agent's metrics as `GET /metrics` answers them. */
export interface AgentMetricsBody {
  agent_name: string;
  runs: number;
  completed: number;
  failed: number;
  cancelled: number;
  in_progress: number;
  success_rate: number | null;
  errors: Record<string, number>;
  latency_ms: { p50: number | null; p95: number | null; count: number; sum: number };
  tokens: { requests: number; input: number; output: number; total: number };
  tools: { calls: number; failures: number; by_tool: Record<string, { calls: number; failures: number }> };
}

/** `GET /metrics` */
export interface MetricsBody {
  since: string;
  until: string;
  agents: AgentMetricsBody[];
}

/**
 * Metrics per agent from the run records (see `agentMetrics`): `GET {path}` as JSON and
 * `GET {path}/prometheus` in the Prometheus text format, over `?since=&until=` (default: the last
 * `windowMs`), optionally for one `?agent_name=`. Not public: `authorize` is required.
 *
 * ```ts
 * import express from 'express';
 * import { createMetricsRouter } from 'express-agent-router';
 *
 * const app = express();
 * app.use(createMetricsRouter(() => db, { authorize: (req) => req.get('authorization') === `Bearer ${process.env.METRICS_TOKEN}` }));
 * ```
 */
export function createMetricsRouter(getDb: GetDb, options: MetricsRouterOptions): Router {
  if (typeof getDb !== 'function') {
    throw new ConfigurationError(
      `createMetricsRouter(getDb, options): getDb must be a function (req) => Kysely, got ${describe(getDb)}. ` +
        'Pass () => db to use one database for every request.',
    );
  }
  if (typeof (options as Partial<MetricsRouterOptions> | undefined)?.authorize !== 'function') {
    throw new ConfigurationError(
      'createMetricsRouter(getDb, { authorize }): the metrics are not public, so pass authorize: (req) => boolean, ' +
        "true for the requests that may read them (an admin, or Prometheus with its token), e.g. (req) => req.user?.role === 'admin'. " +
        'To serve them to anyone, say so: authorize: () => true.',
    );
  }
  const config = parseOptions('createMetricsRouter', optionsSchema, options);
  const logger = (config.logger as Logger | undefined) ?? consoleLogger;
  const path = config.path ?? '/metrics';
  const windowMs = config.windowMs ?? 3_600_000;

  async function report(req: Request): Promise<AgentMetricsReport> {
    let allowed: boolean;
    try {
      allowed = await config.authorize(req);
    } catch (error) {
      if (error instanceof AgentRouterError) throw error;
      throw new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
    }
    if (allowed !== true) throw new ForbiddenError('You may not read the metrics.');
    const query = parseRequest(metricsQuerySchema, req.query, 'query');
    const until = query.until ? new Date(query.until) : new Date();
    const since = query.since ? new Date(query.since) : new Date(until.getTime() - windowMs);
    if (since.getTime() >= until.getTime()) {
      throw new InvalidRequestError('Invalid query: since must be before until.', [{ path: ['since'], message: 'must be before until' }]);
    }
    const db = await resolveDb(getDb, req);
    return agentMetrics(db, { since, until, ...(query.agent_name !== undefined ? { agentName: query.agent_name } : {}) });
  }

  const router = express.Router();
  router.get(
    path,
    asyncHandler(async (req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.json(metricsJson(await report(req)));
    }),
  );
  router.get(
    `${path}/prometheus`,
    asyncHandler(async (req, res) => {
      const text = prometheusText(await report(req));
      res.setHeader('cache-control', 'no-store');
      res.type(PROMETHEUS_CONTENT_TYPE).send(text);
    }),
  );
  router.all(path, methodNotAllowed('GET'));
  router.all(`${path}/prometheus`, methodNotAllowed('GET'));
  router.use(errorMiddleware(logger));
  return router;
}

export function metricsJson(report: AgentMetricsReport): MetricsBody {
  return { since: report.since.toISOString(), until: report.until.toISOString(), agents: report.agents.map(agentJson) };
}

function agentJson(agent: AgentMetrics): AgentMetricsBody {
  return {
    agent_name: agent.agentName,
    runs: agent.runs,
    completed: agent.completed,
    failed: agent.failed,
    cancelled: agent.cancelled,
    in_progress: agent.inProgress,
    success_rate: agent.successRate,
    errors: agent.errors,
    latency_ms: agent.latencyMs,
    tokens: agent.tokens,
    tools: { calls: agent.tools.calls, failures: agent.tools.failures, by_tool: agent.tools.byTool },
  };
}
