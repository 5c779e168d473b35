import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import type { AnyKysely } from '../db/schema.js';
import { ConfigurationError } from '../errors.js';
import { asyncHandler } from '../http/async-handler.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { functionOption, loggerOption, parseOptions, pathOption } from '../http/factory-options.js';
import { consoleLogger, type Logger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import type { GetDb } from '../http/request-context.js';
import { pendingMigrations } from '../migrations/migrate.js';

/** Anything that can say it is shutting down: an `AgentRouter` (its `draining` flag). */
export interface Drainable {
  readonly draining: boolean;
}

export interface HealthRouterOptions {
  /** The database to check: `(req) => Kysely`, as the other routers take it. */
  getDb: GetDb;
  /** Agent routers (anything with a `draining` flag): while any of them drains, health answers 503. Defaults to none. */
  routers?: readonly Drainable[];
  /** Where health answers. Defaults to `'/health'`. */
  path?: string;
  /** How long the database has to answer before health answers 503. Defaults to 1000 ms. */
  timeoutMs?: number;
  /** Where a change of health (and its reason) is reported, once per change. Defaults to `console`. */
  logger?: Logger;
}

const optionsSchema = z.strictObject({
  getDb: functionOption<GetDb>(),
  routers: z
    .array(
      z.custom<Drainable>(
        (value) =>
          (typeof value === 'function' || (typeof value === 'object' && value !== null)) &&
          typeof (value as { draining?: unknown }).draining === 'boolean',
        'must be an agent router (createAgentRouter returns one: it has a draining flag)',
      ),
    )
    .optional(),
  path: pathOption.optional(),
  timeoutMs: z.number().int().min(1).max(60_000).optional(),
  logger: loggerOption.optional(),
});

/** What health answers: nothing more, so that it tells an attacker nothing. */
export interface HealthBody {
  status: 'ok' | 'unavailable';
}

/**
 * `GET /health` for load balancers and orchestrators: 200 `{ "status": "ok" }` when no given
 * router is draining, the database answers within `timeoutMs` and its schema has every migration
 * of this version of the library; 503 `{ "status": "unavailable" }` otherwise. The answer never
 * says why (the reason goes to the logger, once when health changes). Mount it before your
 * authentication middleware; it reads one small table, and concurrent checks share one query.
 *
 * ```ts
 * import express from 'express';
 * import { createAgentRouter, createHealthRouter } from 'express-agent-router';
 *
 * const agentRouter = createAgentRouter(agent, '/assistant', () => db, { getUserId });
 * const app = express();
 * app.use(createHealthRouter({ getDb: () => db, routers: [agentRouter] }));
 * app.use(agentRouter);
 * ```
 */
export function createHealthRouter(options: HealthRouterOptions): Router {
  if (typeof (options as Partial<HealthRouterOptions> | undefined)?.getDb !== 'function') {
    throw new ConfigurationError(
      'createHealthRouter({ getDb }): getDb must be a function (req) => Kysely; pass getDb: () => db, and routers: [...] ' +
        'with your agent routers so that health turns 503 while they drain.',
    );
  }
  const config = parseOptions('createHealthRouter', optionsSchema, options);
  const logger = (config.logger as Logger | undefined) ?? consoleLogger;
  const routers = config.routers ?? [];
  const path = config.path ?? '/health';
  const timeoutMs = config.timeoutMs ?? 1000;
  const checks = new DatabaseChecks(timeoutMs);
  let lastProblem: string | undefined = 'starting';

  async function problemOf(req: Request): Promise<string | undefined> {
    if (routers.some((router) => router.draining)) return 'an agent router is draining';
    let db: AnyKysely;
    try {
      db = await config.getDb(req);
    } catch (error) {
      return `getDb threw: ${String(error)}`;
    }
    return checks.problemOf(db);
  }

  const router = express.Router();
  router.get(
    path,
    asyncHandler(async (req, res) => {
      const problem = await problemOf(req);
      if (problem !== lastProblem) {
        if (problem) logger.warn(`Health: unavailable (${problem})`);
        else if (lastProblem !== 'starting') logger.warn('Health: ok again');
        lastProblem = problem;
      }
      res.setHeader('cache-control', 'no-store');
      res.status(problem ? 503 : 200).json({ status: problem ? 'unavailable' : 'ok' } satisfies HealthBody);
    }),
  );
  router.all(path, methodNotAllowed('GET', 'HEAD'));
  router.use(errorMiddleware(logger));
  return router;
}

/**
 * One check at a time per database: requests that arrive while a check is going on share it,
 * until it answers or its time is up. A check that hangs (a server that accepts connections but
 * never answers) is then left to its own timeout, and the next request starts a fresh one, so
 * that a database that comes back is seen at once.
 */
class DatabaseChecks {
  readonly #timeoutMs: number;
  readonly #current = new WeakMap<AnyKysely, Promise<string | undefined>>();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  problemOf(db: AnyKysely): Promise<string | undefined> {
    let check = this.#current.get(db);
    if (!check) {
      check = this.#check(db).finally(() => {
        if (this.#current.get(db) === check) this.#current.delete(db);
      });
      this.#current.set(db, check);
    }
    return check;
  }

  #check(db: AnyKysely): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the database did not answer within ${this.#timeoutMs} ms`), this.#timeoutMs);
    });
    const query = pendingMigrations(db).then(
      (pending) => (pending.length === 0 ? undefined : `the schema lacks migrations ${pending.join(', ')}`),
      (error: unknown) => `the database failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    return Promise.race([query, timeout]).finally(() => clearTimeout(timer));
  }
}
