// One instance of the soak's app, in its own process (soak/run.ts starts two on one database).
// Env: DATABASE_URL, APP_NAME (also the pool's application_name), POOL_MAX, WORDS, WORD_DELAY_MS.
// Run with --expose-gc: GET /__soak/stats?gc=1 collects garbage before it measures, so that the
// driver compares memory at rest, not whatever garbage happens to be waiting.
// With SOAK_HEAP_DIR set, GET /__soak/heap-snapshot?label=L writes a heap snapshot (after a GC)
// to that folder, for `soak/heap-diff.ts` to compare two of them.
// It prints {"port": N} once it listens; on SIGTERM it drains the routers and exits.
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { Agent, Runner, tool } from '@openai/agents';
import express from 'express';
import { createAgentRouter, createChatRouter } from 'express-agent-router';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import { SoakModel } from './soak-model.js';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_MAX ?? 10),
  application_name: process.env.APP_NAME ?? 'soak-app',
});
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));
const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });

// What the driver reads at the end: how often the approval tool really ran, and anything the
// routers logged (a soak that passes should log nothing).
const counters = { toolRuns: 0, warnings: 0, errors: 0 };
const logged: string[] = [];
const logger = {
  warn: (message: string, details?: unknown) => {
    counters.warnings++;
    if (logged.length < 20) logged.push(`warn: ${message} ${JSON.stringify(details)}`);
  },
  error: (message: string, details?: unknown) => {
    counters.errors++;
    if (logged.length < 20) logged.push(`error: ${message} ${JSON.stringify(details)}`);
  },
};

const words = Number(process.env.WORDS ?? 12);
const delayMs = Number(process.env.WORD_DELAY_MS ?? 40);
const deleteTask = tool({
  name: 'delete_task',
  description: 'Deletes a task.',
  parameters: z.object({ task: z.string() }),
  needsApproval: true,
  execute: async ({ task }) => {
    counters.toolRuns++;
    return `deleted ${task}`;
  },
});
const bard = new Agent({ name: 'Bard', instructions: 'Answer.', model: new SoakModel({ words, delayMs }) });
const janitor = new Agent({
  name: 'Janitor',
  instructions: 'Delete tasks.',
  model: new SoakModel({ words, delayMs, tool: 'delete_task' }),
  tools: [deleteTask],
});

const runner = new Runner({ tracingDisabled: true });
const getUserId = (req: express.Request) => req.header('x-user-id');
const routers = [
  createAgentRouter(bard, '/bard', () => db, { getUserId, runner, logger }),
  createAgentRouter(janitor, '/janitor', () => db, { getUserId, runner, logger }),
];

const app = express();
async function collectGarbage(): Promise<void> {
  // Twice: the first pass can leave objects whose finalizers free more.
  globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc?.();
}
app.get('/__soak/stats', async (req, res) => {
  if (req.query.gc === '1') await collectGarbage();
  const connections = await new Promise<number>((resolve) => server.getConnections((_, count) => resolve(count)));
  res.json({
    memory: process.memoryUsage(),
    gc: typeof globalThis.gc === 'function',
    httpConnections: connections,
    pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount },
    ...counters,
    logged,
  });
});
app.get('/__soak/heap-snapshot', async (req, res) => {
  const folder = process.env.SOAK_HEAP_DIR;
  if (!folder) return res.status(404).json({ error: 'SOAK_HEAP_DIR is not set' });
  await collectGarbage();
  res.json({ file: writeHeapSnapshot(join(folder, `${process.env.APP_NAME}-${String(req.query.label)}.heapsnapshot`)) });
});
for (const router of routers) app.use(router);
app.use(createChatRouter(() => db, { getUserId, logger }));

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});

process.on('SIGTERM', async () => {
  server.close();
  await Promise.all(routers.map((router) => router.drain({ timeoutMs: 5000 })));
  await db.destroy();
  process.exit(0);
});
