import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelResponder } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import type { AnyKysely } from '../../src/db/schema.js';
import { ConfigurationError } from '../../src/errors.js';
import { createHealthRouter } from '../../src/health/create-health-router.js';
import { migrate } from '../../src/migrations/migrate.js';
import { gate } from '../helpers/agents.js';
import { POSTGRES_URL, createTestDatabase, describeEachEngine, describePostgres, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const OK = { status: 'ok' };
const UNAVAILABLE = { status: 'unavailable' };

/** A Kysely whose pool connects to `port` on 127.0.0.1 (and waits for a connection that long, 0: for ever). */
function kyselyOn(port: number, connectionTimeoutMillis = 5_000): { db: AnyKysely; pool: pg.Pool } {
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis });
  pool.on('error', () => {});
  return { db: new Kysely<any>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts connections and never says a word: a database that hangs. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('createHealthRouter', () => {
  it('refuses at start-up what it cannot check', () => {
    expect(() => createHealthRouter(undefined as never)).toThrow(ConfigurationError);
    expect(() => createHealthRouter({} as never)).toThrow(/pass getDb: \(\) => db/);
    expect(() => createHealthRouter({ getDb: () => ({}) as never, routers: [{}] as never })).toThrow(/must be an agent router/);
    expect(() => createHealthRouter({ getDb: () => ({}) as never, path: 'health' })).toThrow(/option "path"/);
    expect(() => createHealthRouter({ getDb: () => ({}) as never, timeoutMs: 0 })).toThrow(/option "timeoutMs"/);
  });
});

describeEachEngine('createHealthRouter', (engine) => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(() => database.destroy());

  it('answers 200 when the database answers and has every migration, and says nothing more', async () => {
    const app = express();
    app.use(createHealthRouter({ getDb: () => database.db, logger: quiet }));
    server = await listen(app);
    const answer = await request(server, 'GET', '/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(OK);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect((await request(server, 'HEAD', '/health')).status).toBe(200);
    expect((await request(server, 'POST', '/health')).status).toBe(405);
  });

  it('answers 503 while the schema lacks a migration, and 200 once it is migrated', async () => {
    const fresh = await createTestDatabase(engine, { migrate: false });
    try {
      const app = express();
      app.use(createHealthRouter({ getDb: () => fresh.db, path: '/ops/health', logger: quiet }));
      server = await listen(app);
      const before = await request(server, 'GET', '/ops/health');
      expect(before.status).toBe(503);
      expect(before.body).toEqual(UNAVAILABLE);
      await migrate(fresh.db);
      expect((await request(server, 'GET', '/ops/health')).status).toBe(200);
    } finally {
      await server?.close();
      server = undefined;
      await fresh.destroy();
    }
  });

  it('answers 503 from the moment an agent router drains, while its runs finish and after', async () => {
    const hold = gate();
    const model = new ScriptedModel([
      modelResponder(async () => {
        await hold.promise;
        return [assistantMessage('Finished.')];
      }),
    ]);
    const agentRouter = createAgentRouter(new Agent({ name: 'Slow', model }), '/slow', () => database.db, {
      getUserId: () => 'alice',
      logger: quiet,
    });
    const app = express();
    app.use(createHealthRouter({ getDb: () => database.db, routers: [agentRouter], logger: quiet }));
    app.use(agentRouter);
    server = await listen(app);
    expect(agentRouter.draining).toBe(false);
    expect((await request(server, 'GET', '/health')).status).toBe(200);

    const running = request(server, 'POST', '/slow/run', { body: { input: 'take your time' } });
    // The run is in flight once its row exists.
    while ((await database.db.selectFrom('agent_runs').select('id').where('agent_name', '=', 'Slow').execute()).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const drained = agentRouter.drain({ timeoutMs: 10_000 });
    expect(agentRouter.draining).toBe(true);
    const during = await request(server, 'GET', '/health');
    expect(during.status).toBe(503);
    expect(during.body).toEqual(UNAVAILABLE);
    hold.open();
    expect((await running).status).toBe(200);
    expect(await drained).toEqual({ finished: 1, cancelled: 0 });
    expect((await request(server, 'GET', '/health')).status).toBe(503);
  });
});

describePostgres('createHealthRouter when the database is away', () => {
  let database: TestDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(() => database.destroy());

  it('answers 503 when the database cannot be reached or its pool is closed, and 200 again with a working one', async () => {
    const unreachable = kyselyOn(await closedPort());
    const ended = kyselyOn(Number(new URL(POSTGRES_URL).port || 5432));
    await ended.pool.end();
    let current: AnyKysely = unreachable.db;
    const warnings: string[] = [];
    const app = express();
    app.use(
      createHealthRouter({
        getDb: () => current,
        logger: { warn: (message) => warnings.push(message), error: () => {} },
      }),
    );
    server = await listen(app);
    try {
      const refused = await request(server, 'GET', '/health');
      expect(refused.status).toBe(503);
      // No detail: not the error, not the port, not the driver's message.
      expect(refused.text).toBe(JSON.stringify(UNAVAILABLE));
      current = ended.db;
      expect((await request(server, 'GET', '/health')).status).toBe(503);
      current = database.db;
      expect((await request(server, 'GET', '/health')).status).toBe(200);
      // The reason went to the log, once per change of health.
      expect(warnings).toEqual([
        expect.stringMatching(/^Health: unavailable \(the database failed: .*ECONNREFUSED/),
        expect.stringMatching(/^Health: unavailable \(the database failed: Cannot use a pool after calling end/),
        'Health: ok again',
      ]);
    } finally {
      await unreachable.db.destroy();
    }
  });

  it('answers 503 when the database does not answer within timeoutMs', async () => {
    const silent = await silentServer();
    // Its pool would wait for ever: only the health router's own timeout answers.
    const hanging = kyselyOn(silent.port, 0);
    let current: AnyKysely = hanging.db;
    const app = express();
    app.use(createHealthRouter({ getDb: () => current, timeoutMs: 200, logger: quiet }));
    server = await listen(app);
    try {
      const [first, second] = await Promise.all([request(server, 'GET', '/health'), request(server, 'GET', '/health')]);
      expect([first.status, second.status]).toEqual([503, 503]);
      // The hung checks are still waiting for their connection; a working database is seen at once.
      current = database.db;
      expect((await request(server, 'GET', '/health')).status).toBe(200);
    } finally {
      await silent.close();
      await hanging.db.destroy().catch(() => {});
    }
  });
});
