import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createAgentRouter } from 'express-agent-router';
import type { BenchDatabase } from '../database.js';
import { loopEach, percentile } from '../measure.js';
import type { Report } from '../report.js';
import { createChats, load, post, startServer, type Server } from './http.js';

export interface FloorSettings {
  concurrency: number[];
  /** Length of one contender's turn in a round, in ms. */
  windowMs: number;
  rounds: number;
  /** Items of history every run is sent (the chats are seeded with as many). */
  history: number;
}

/** The library's own cost per /run may be at most this, in ms at p50. */
const OVERHEAD_GOAL_MS = 0.5;

interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * The floor under a `/run`, measured in the same rounds as the `/run` itself, at each concurrency:
 *
 * - HTTP floor: an Express endpoint that parses the body and answers (bench-server MODE=floor),
 *   driven by the same client as the library;
 * - SDK floor: the SDK's `runner.run()` alone, with the same instant ScriptedModel and a history
 *   as long as the one the library sends;
 * - SQL floor: the very statements one library `/run` sends (captured from a Kysely log), sent
 *   again with raw `pg`, each replay as a new run on its own chat.
 *
 * The library's overhead is `/run` p50 minus the three floors' p50s. The library server has a
 * `historyLimit` of `history`, so that every run is sent the same number of items however many
 * runs a round adds to its chat.
 */
export async function floorBenchmarks(bench: BenchDatabase, settings: FloorSettings, report: Report) {
  const statements = await captureRun(bench, settings.history);
  report.valueRow('floor', 'SQL statements of a /run, replayed for the SQL floor', statements.length, 'statements');
  await explainRun(bench, statements, settings.history, report);

  const history = seededHistory(settings.history);
  const runner = new Runner({ tracingDisabled: true, modelProvider: { getModel: () => new ScriptedModel([[assistantMessage('ok')]]) } });
  const agent = new Agent({ name: 'Instant', instructions: 'Answer.', model: 'instant' });
  const sqlPool = new pg.Pool({ ...bench.poolConfig, max: 40 });
  const servers = {
    library: await startServer('library', { MODE: 'library', SCHEMA: bench.schema, HISTORY_LIMIT: String(settings.history) }),
    http: await startServer('HTTP floor', { MODE: 'floor', SCHEMA: bench.schema }),
  };
  try {
    for (const clients of settings.concurrency) {
      const contenders: Record<string, () => Promise<number[]>> = {
        library: async () => (await load(servers.library, await createChats(bench, clients, settings.history), settings.windowMs)).latencies,
        http: async () => (await load(servers.http, await createChats(bench, clients), settings.windowMs)).latencies,
        sdk: () => loop(clients, settings.windowMs, () => runner.run(agent, [...history, { role: 'user', content: 'hello' }])),
        sql: async () => {
          const chats = await createChats(bench, clients, settings.history);
          return loopEach(chats, settings.windowMs, (chat) => replay(sqlPool, statements, chat));
        },
      };
      const names = Object.keys(contenders);
      for (const name of names) await contenders[name]!(); // warm-up
      const latencies: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
      for (let round = 0; round < settings.rounds; round++) {
        for (const name of round % 2 === 0 ? names : [...names].reverse()) latencies[name]!.push(...(await contenders[name]!()));
      }
      const p50 = (name: string) => percentile(latencies[name]!, 50);
      const label = `${clients} client${clients > 1 ? 's' : ''}`;
      const add = (name: string, who: string) =>
        report.add({
          section: 'floor',
          name: `${who}, ${label}`,
          value: p50(name),
          unit: `ms p50, ${percentile(latencies[name]!, 99).toFixed(2)} ms p99`,
        });
      add('library', '/run');
      add('http', 'HTTP floor');
      add('sdk', 'SDK floor');
      add('sql', 'SQL floor');
      const overhead = p50('library') - p50('http') - p50('sdk') - p50('sql');
      report.valueRow('floor', `library overhead, ${label}`, overhead, 'ms p50', {
        goal: `≤ ${OVERHEAD_GOAL_MS} ms`,
        met: (value) => value <= OVERHEAD_GOAL_MS,
      });
    }
  } finally {
    for (const server of Object.values(servers) as Server[]) server.child.kill();
    await sqlPool.end();
  }
}

/** `clients` loops of `run` for `ms`; the latency of every call. */
function loop(clients: number, ms: number, run: () => Promise<unknown>): Promise<number[]> {
  return loopEach(Array.from({ length: clients }, (_, i) => String(i)), ms, run);
}

/** The items createChats seeds, as the SDK floor's history. */
function seededHistory(count: number): AgentInputItem[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    return n % 2 === 1 ? { role: 'user' as const, content: `question ${n}` } : assistantMessage(`answer ${n}`);
  });
}

/**
 * The statements the library sends for one `/run` on an existing chat of `history` items, logged
 * by Kysely; the chat's and the run's ids in them are replaced on each replay.
 */
async function captureRun(bench: BenchDatabase, history: number): Promise<Statement[]> {
  let captured: Statement[] = [];
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool(bench.poolConfig) }),
    log: (event) => {
      if (event.level === 'query') captured.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  const model = new ScriptedModel([[assistantMessage('one')], [assistantMessage('two')]]);
  const app = express();
  const runner = new Runner({ tracingDisabled: true });
  app.use(createAgentRouter(new Agent({ name: 'Captured', model }), '/c', () => db, { getUserId: () => 'bench', runner, historyLimit: history }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/c/run`;
  try {
    const [chat] = await createChats(bench, 1, history);
    await post(url, { input: 'first', session_id: chat }); // the engine probe happens on first use
    captured = [];
    const { run_id: runId } = await post(url, { input: 'second', session_id: chat });
    const statements = captured.map(({ sql, parameters }) => ({ sql, parameters: withIds(parameters, { [chat!]: CHAT, [runId]: RUN }) }));
    // A replay must do what the run did, or the floor would be that of statements that match nothing.
    const [check] = await createChats(bench, 1, history);
    await replay(bench.raw, statements, check!);
    const { rows } = await bench.raw.query('SELECT item_count, lease_run_id FROM agent_chats WHERE id = $1', [check]);
    if (rows[0].item_count !== history + 2 || rows[0].lease_run_id !== null) {
      throw new Error(`The replayed /run left its chat at ${JSON.stringify(rows[0])}: the SQL floor would be wrong.`);
    }
    return statements;
  } finally {
    server.close();
    await db.destroy();
  }
}

/**
 * Where PostgreSQL spends a /run's SQL: planning and execution time of each statement, as
 * EXPLAIN ANALYZE reports them on one warm connection (every execution is a new run on the same
 * chat, rolled back). Node-postgres sends unnamed statements, so PostgreSQL plans each one anew
 * on every run; execution includes the foreign-key checks of what the statement inserts.
 */
async function explainRun(bench: BenchDatabase, statements: Statement[], history: number, report: Report): Promise<void> {
  const [chat] = await createChats(bench, 1, history);
  const client = await bench.raw.connect();
  const planning: number[][] = statements.map(() => []);
  const execution: number[][] = statements.map(() => []);
  try {
    for (let run = 0; run < 40; run++) {
      const ids = { [CHAT]: chat!, [RUN]: crypto.randomUUID() };
      await client.query('BEGIN');
      for (const [index, { sql, parameters }] of statements.entries()) {
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, withIds(parameters, ids));
        const plan = rows[0]['QUERY PLAN'][0] as { 'Planning Time': number; 'Execution Time': number; Triggers?: { Time: number }[] };
        // The first runs warm the connection's caches up.
        if (run < 10) continue;
        planning[index]!.push(plan['Planning Time']);
        execution[index]!.push(plan['Execution Time'] + (plan.Triggers ?? []).reduce((sum, trigger) => sum + trigger.Time, 0));
      }
      await client.query('ROLLBACK');
    }
  } finally {
    client.release();
  }
  for (const index of statements.keys()) {
    report.valueRow('floor', `PostgreSQL's planning of statement ${index + 1} of a /run`, percentile(planning[index]!, 50), 'ms p50');
    report.valueRow('floor', `PostgreSQL's execution of statement ${index + 1} of a /run (EXPLAIN ANALYZE)`, percentile(execution[index]!, 50), 'ms p50');
  }
}

const CHAT = '\u0000chat\u0000';
const RUN = '\u0000run\u0000';

/** Every string parameter with the given substrings replaced (ids are also inside JSON parameters). */
function withIds(parameters: readonly unknown[], replacements: Record<string, string>): unknown[] {
  return parameters.map((value) => {
    if (typeof value !== 'string') return value;
    let text = value;
    for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
    return text;
  });
}

/** One library /run's SQL, as a new run on `chat`, through raw `pg`. */
async function replay(pool: pg.Pool, statements: Statement[], chat: string): Promise<void> {
  const ids = { [CHAT]: chat, [RUN]: crypto.randomUUID() };
  for (const { sql, parameters } of statements) await pool.query(sql, withIds(parameters, ids));
}
