import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Agent, Runner } from '@openai/agents';
import { ScriptedModel, assistantMessage } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createAgentRouter } from 'express-agent-router';
import { ownCpuMs, postgresCpuMs } from '../cpu-usage.js';
import { DATABASE_URL, type BenchDatabase } from '../database.js';
import { loopEach, median, percentile } from '../measure.js';
import type { Report } from '../report.js';

export interface HttpSettings {
  /** Concurrency levels, each a number of clients working on distinct sessions. */
  concurrency: number[];
  /** Length of one contender's turn in a round, in ms. */
  windowMs: number;
  rounds: number;
  /** Streams timed for the first-delta latency. */
  streams: number;
  /** Session sizes for the growth figure, and runs timed at each. */
  growthSizes: number[];
  growthRuns: number;
  /** Runs before the first and the second RSS reading. */
  memoryRuns: [number, number];
  /** Items of the long chats on which the library (with its default historyLimit) meets the hand-written handler. */
  longChat: number;
}

export interface Server {
  name: string;
  url: string;
  child: ChildProcess;
}

export const headers = { 'content-type': 'application/json', 'x-user-id': 'bench' };

/** Starts bench/http/bench-server.ts in its own process; `nodeArgs` go to `node` (e.g. `--cpu-prof`). */
export async function startServer(name: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Server> {
  const script = new URL('../http/bench-server.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, '--import', 'tsx', script], {
    env: { ...process.env, DATABASE_URL, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)));
  });
  return { name, url: `http://127.0.0.1:${port}`, child };
}

export async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Chats owned by the bench user, each seeded with `items` alternating user/assistant items. */
export async function createChats(bench: BenchDatabase, count: number, items = 0): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await bench.raw.query(
    `INSERT INTO agent_chats (id, user_id, item_count, next_position) SELECT unnest($1::varchar[]), 'bench', $2, $2 + 1`,
    [ids, items],
  );
  if (items > 0) {
    await bench.raw.query(
      `INSERT INTO agent_items (session_id, position, item)
       SELECT chat, n, CASE WHEN n % 2 = 1
         THEN jsonb_build_object('role', 'user', 'content', 'question ' || n)
         ELSE jsonb_build_object('type', 'message', 'role', 'assistant', 'status', 'completed',
                                 'content', jsonb_build_array(jsonb_build_object('type', 'output_text', 'text', 'answer ' || n))) END
       FROM unnest($1::varchar[]) AS chat, generate_series(1, $2::int) AS n`,
      [ids, items],
    );
    await bench.raw.query('ANALYZE agent_items');
  }
  return ids;
}

/** `clients` workers, each looping /run on its own session for `ms`. */
export async function load(server: Server, sessions: string[], ms: number): Promise<{ count: number; latencies: number[] }> {
  const latencies = await loopEach(sessions, ms, (sessionId) => post(`${server.url}/a/run`, { input: 'hello', session_id: sessionId }));
  return { count: latencies.length, latencies };
}

/**
 * `/run` through the library beside the hand-written handler, with an instant model: throughput
 * and latency at several concurrency levels, alternating the contenders round by round; SQL
 * round trips per run; the first delta's latency through `/stream`; latency as a session grows,
 * with and without historyLimit; and RSS after many runs.
 */
export async function httpBenchmarks(bench: BenchDatabase, settings: HttpSettings, report: Report) {
  report.valueRow('http', 'SQL round trips per /run (existing chat)', await countRoundTrips(bench), 'statements', {
    goal: '≤ 4',
    met: (value) => value <= 4,
  });

  const servers = {
    // The default historyLimit (1,000 items).
    library: await startServer('library', { MODE: 'library', SCHEMA: bench.schema }),
    handwritten: await startServer('hand-written', { MODE: 'handwritten', SCHEMA: bench.schema }),
    limited: await startServer('library, historyLimit 50', { MODE: 'library', SCHEMA: bench.schema, HISTORY_LIMIT: '50' }),
    unlimited: await startServer('library, historyLimit null', { MODE: 'library', SCHEMA: bench.schema, HISTORY_LIMIT: 'null' }),
  };
  try {
    for (const clients of settings.concurrency) {
      // Warm-up, then rounds alternating which contender goes first. Every round starts on new,
      // empty sessions, so that histories are as long for both contenders.
      await load(servers.library, await createChats(bench, clients), settings.windowMs / 2);
      await load(servers.handwritten, await createChats(bench, clients), settings.windowMs / 2);
      const throughput: Record<string, number[]> = { library: [], handwritten: [] };
      const latencies: Record<string, number[]> = { library: [], handwritten: [] };
      const cpu = { library: new CpuTally(), handwritten: new CpuTally() };
      for (let round = 0; round < settings.rounds; round++) {
        const order = round % 2 === 0 ? (['library', 'handwritten'] as const) : (['handwritten', 'library'] as const);
        for (const name of order) {
          const chats = await createChats(bench, clients);
          const before = await cpuReading(servers[name]);
          const result = await load(servers[name], chats, settings.windowMs);
          cpu[name].add(before, await cpuReading(servers[name]), result.count);
          throughput[name]!.push(result.count / (settings.windowMs / 1000));
          latencies[name]!.push(...result.latencies);
        }
      }
      reportCpu(report, clients, cpu.library, cpu.handwritten);
      const ratio = median(throughput.library!.map((value, round) => value / throughput.handwritten![round]!));
      report.add({
        section: 'http',
        name: `/run throughput, ${clients} client${clients > 1 ? 's' : ''} (req/s)`,
        versus: 'library / hand-written',
        contenderMs: undefined,
        baselineMs: undefined,
        value: median(throughput.library!),
        unit: `req/s vs ${median(throughput.handwritten!).toFixed(0)} req/s`,
        ratio,
        goal: '≥ 0.95',
        met: ratio >= 0.95,
      });
      for (const name of ['library', 'handwritten'] as const) {
        report.add({
          section: 'http',
          name: `/run latency, ${clients} client${clients > 1 ? 's' : ''}, ${name === 'library' ? 'library' : 'hand-written'}`,
          value: percentile(latencies[name]!, 50),
          unit: `ms p50, ${percentile(latencies[name]!, 99).toFixed(2)} ms p99`,
        });
      }
    }

    // A long chat: the hand-written handler reads and sends everything, the library its default window.
    const longClients = 8;
    const longThroughput: Record<string, number[]> = { library: [], handwritten: [] };
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? (['library', 'handwritten'] as const) : (['handwritten', 'library'] as const);
      for (const name of order) {
        const result = await load(servers[name], await createChats(bench, longClients, settings.longChat), settings.windowMs);
        longThroughput[name]!.push(result.count / (settings.windowMs / 1000));
      }
    }
    const longRatio = median(longThroughput.library!.map((value, round) => value / longThroughput.handwritten![round]!));
    report.add({
      section: 'http',
      name: `/run throughput on chats of ${settings.longChat.toLocaleString('en')} items, ${longClients} clients (req/s)`,
      versus: 'library / hand-written',
      value: median(longThroughput.library!),
      unit: `req/s vs ${median(longThroughput.handwritten!).toFixed(0)} req/s`,
      ratio: longRatio,
      goal: '> 1',
      met: longRatio > 1,
    });

    // /stream: time from the model producing its first delta to the client holding it.
    const [streamChat] = await createChats(bench, 1);
    const delays: number[] = [];
    for (let i = 0; i < settings.streams; i++) delays.push(await firstDeltaDelay(servers.library, streamChat!));
    report.add({
      section: 'http',
      name: '/stream: model’s first delta → client',
      value: percentile(delays, 50),
      unit: `ms p50, ${percentile(delays, 99).toFixed(2)} ms p99`,
    });

    // Growth: /run latency on one session as it holds more items (after warming the servers up).
    const columns = { unlimited: 'no historyLimit', library: 'default historyLimit (1,000)', limited: 'historyLimit 50' } as const;
    const growing = Object.keys(columns) as (keyof typeof columns)[];
    for (const name of growing) await load(servers[name], await createChats(bench, 4), settings.windowMs / 2);
    const growth: Record<string, number[]> = { unlimited: [], library: [], limited: [] };
    for (const size of settings.growthSizes) {
      for (const name of growing) {
        const [chat] = await createChats(bench, 1, size);
        const times: number[] = [];
        for (let i = 0; i < settings.growthRuns; i++) {
          const start = performance.now();
          await post(`${servers[name].url}/a/run`, { input: 'and then?', session_id: chat });
          times.push(performance.now() - start);
        }
        growth[name]!.push(median(times));
        report.add({
          section: 'growth',
          name: `/run on a session of ${size.toLocaleString('en')} items, ${columns[name]}`,
          value: median(times),
          unit: 'ms p50',
        });
      }
    }
    const flat = growth.limited!.at(-1)! / growth.limited![0]!;
    report.add({
      section: 'growth',
      name: `historyLimit 50: ${settings.growthSizes.at(-1)!.toLocaleString('en')}-item session vs ${settings.growthSizes[0]!.toLocaleString('en')}-item session`,
      ratio: flat,
      versus: 'largest / smallest',
      goal: '≤ 1.5 (flat)',
      met: flat <= 1.5,
    });
    // Past the default window, the default is flat too.
    const [smallest, largest] = [settings.growthSizes[0]!, settings.growthSizes.at(-1)!];
    const window = settings.growthSizes.indexOf(1_000);
    if (window >= 0 && largest > 1_000) {
      const past = growth.library!.at(-1)! / growth.library![window]!;
      report.add({
        section: 'growth',
        name: `default historyLimit: ${largest.toLocaleString('en')}-item session vs 1,000-item session`,
        ratio: past,
        versus: 'largest / 1,000 items',
        goal: '≤ 1.5 (flat)',
        met: past <= 1.5,
      });
    }
    // What each item of history costs a run that sends everything: the reason for a default limit.
    report.valueRow(
      'growth',
      'cost of a history item to a /run that sends everything',
      ((growth.unlimited!.at(-1)! - growth.unlimited![0]!) / (largest - smallest)) * 1000,
      'µs per item',
    );

    // Memory: RSS after many runs (each on a new chat), the second reading against the first.
    const [first, second] = settings.memoryRuns;
    await runMany(servers.limited, first);
    const rssFirst = await rss(servers.limited);
    await runMany(servers.limited, second - first);
    const rssSecond = await rss(servers.limited);
    report.add({ section: 'memory', name: `RSS after ${first.toLocaleString('en')} runs`, value: rssFirst / 2 ** 20, unit: 'MiB' });
    report.add({ section: 'memory', name: `RSS after ${second.toLocaleString('en')} runs`, value: rssSecond / 2 ** 20, unit: 'MiB' });
    report.add({
      section: 'memory',
      name: `RSS growth from ${first.toLocaleString('en')} to ${second.toLocaleString('en')} runs`,
      ratio: rssSecond / rssFirst,
      versus: 'after / before',
      goal: '≤ 1.2 (no leak)',
      met: rssSecond / rssFirst <= 1.2,
    });
  } finally {
    for (const server of Object.values(servers)) server.child.kill();
  }
}

/** CPU time (user + system, ms) a bench server process has used so far. */
export async function serverCpuMs(server: Server): Promise<number> {
  const { user, system } = (await (await fetch(`${server.url}/__cpu`)).json()) as NodeJS.CpuUsage;
  return (user + system) / 1000;
}

const CPU_PARTS = [
  ['server', 'server'],
  ['postgres', 'PostgreSQL'],
  ['client', 'load generator'],
] as const;
type CpuPart = (typeof CPU_PARTS)[number][0];
type CpuReading = Record<CpuPart, number>;

/** CPU time so far (ms) of a contender's server, of PostgreSQL (0 where it cannot be read) and of this process. */
async function cpuReading(server: Server): Promise<CpuReading> {
  return { server: await serverCpuMs(server), postgres: postgresCpuMs() ?? 0, client: ownCpuMs() };
}

/** The CPU one contender's runs used, summed over the rounds, and how many runs that was. */
class CpuTally {
  readonly used: CpuReading = { server: 0, postgres: 0, client: 0 };
  runs = 0;

  add(before: CpuReading, after: CpuReading, runs: number): void {
    for (const [part] of CPU_PARTS) this.used[part] += after[part] - before[part];
    this.runs += runs;
  }

  perRun(part: CpuPart): number {
    return this.used[part] / this.runs;
  }
}

/**
 * CPU per /run of each contender, split between its server, PostgreSQL and the load generator
 * (the bench process, whose CPU also comes from the same two cores). Once the cores are
 * saturated, throughput is what the cores give divided by the CPU a run costs everyone, so the
 * ratio of the totals predicts the throughput ratio: it says how much of a gap is CPU, and whose.
 * Without PostgreSQL's CPU (a server on another machine), only the processes' own rows are given.
 */
function reportCpu(report: Report, clients: number, library: CpuTally, handwritten: CpuTally): void {
  const label = `${clients} client${clients > 1 ? 's' : ''}`;
  const postgresLocal = postgresCpuMs() !== undefined;
  const parts = CPU_PARTS.filter(([part]) => postgresLocal || part !== 'postgres');
  for (const [name, tally] of [
    ['library', library],
    ['hand-written', handwritten],
  ] as const) {
    for (const [part, title] of parts) report.valueRow('cpu', `CPU per /run, ${label}, ${name}, ${title}`, tally.perRun(part), 'ms');
  }
  if (!postgresLocal) return;
  const total = (tally: CpuTally) => CPU_PARTS.reduce((sum, [part]) => sum + tally.perRun(part), 0);
  report.add({
    section: 'cpu',
    name: `/run throughput the CPU predicts, ${label}`,
    versus: 'hand-written CPU per run / library CPU per run',
    ratio: total(handwritten) / total(library),
  });
}

async function runMany(server: Server, runs: number): Promise<void> {
  const workers = 8;
  let left = runs;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (left-- > 0) await post(`${server.url}/a/run`, { input: 'a new chat each time' });
    }),
  );
}

export async function rss(server: Server): Promise<number> {
  return ((await (await fetch(`${server.url}/__rss`)).json()) as { rss: number }).rss;
}

/** Opens a stream and returns the ms between the delta's production (stamped in it) and its arrival. */
async function firstDeltaDelay(server: Server, sessionId: string): Promise<number> {
  const response = await fetch(`${server.url}/s/stream`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input: 'stream', session_id: sessionId }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let delay: number | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const match = delay === undefined ? /event: text\.delta\ndata: \{"delta":"t=([\d.]+)"\}/.exec(text) : null;
    if (match) delay = performance.timeOrigin + performance.now() - Number(match[1]);
  }
  if (delay === undefined) throw new Error(`no delta in the stream: ${text}`);
  return delay;
}

/** The statements one /run sends, counted on a Kysely that logs them. */
async function countRoundTrips(bench: BenchDatabase): Promise<number> {
  let statements = 0;
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool(bench.poolConfig) }),
    log: (event) => {
      if (event.level === 'query') statements++;
    },
  });
  const model = new ScriptedModel([[assistantMessage('one')], [assistantMessage('two')]]);
  const app = express();
  const runner = new Runner({ tracingDisabled: true });
  app.use(createAgentRouter(new Agent({ name: 'Counted', model }), '/c', () => db, { getUserId: () => 'bench', runner }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/c/run`;
  try {
    const first = await post(url, { input: 'first' }); // creates the chat (and probes the engine)
    statements = 0;
    await post(url, { input: 'second', session_id: first.session_id });
    return statements;
  } finally {
    server.close();
    await db.destroy();
  }
}
