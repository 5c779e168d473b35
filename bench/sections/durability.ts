import { Agent, Runner } from '@openai/agents';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createAgentRouter } from 'express-agent-router';
import { EVENT_FLUSH_MS } from '../../src/runs/event-recorder.js';
import { CANCEL_POLL_MS, FOLLOW_POLL_MS } from '../../src/runs/run-watcher.js';
import type { BenchDatabase } from '../database.js';
import { FOLLOWED_DELTAS, RESUMED_DELTAS, STREAM_DELTAS } from '../http/durability-routes.js';
import { openSse, startRunStream } from '../http/sse-client.js';
import { deltaModel, wallClock, type DeltaScript } from '../http/streaming-models.js';
import { median, percentile } from '../measure.js';
import type { Report } from '../report.js';
import { createChats, headers, startServer, type Server } from './http.js';

export interface DurabilitySettings {
  /** Rounds alternating the recorded stream and the unrecorded one. */
  rounds: number;
  /** Streams timed one after another per contender and round (first-delta latency). */
  streamsPerRound: number;
  /** Clients streaming at once, and how long each contender's turn lasts (throughput). */
  clients: number;
  windowMs: number;
  /** Deltas per streamed run for the statement counts. */
  deltaCounts: number[];
  /** Runs followed from each instance (each about a second, FOLLOWED_DELTAS stamped deltas). */
  followedRuns: number;
  /** Resumes of a finished run timed. */
  resumes: number;
}

const SECTION = 'durability';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What recording a run's events costs and buys: /stream with recorded events beside the same
 * stream with `recordEvents: false`, the SQL statements of a streamed run by its number of
 * deltas, the delay of a follower on another instance, and how soon a resume replays.
 */
export async function durabilityCosts(bench: BenchDatabase, settings: DurabilitySettings, report: Report): Promise<void> {
  await statementsPerStream(bench, settings, report);

  // Two instances on the same database: A runs the agents, B only follows.
  const a = await startServer('instance A', { MODE: 'library', SCHEMA: bench.schema });
  const b = await startServer('instance B', { MODE: 'library', SCHEMA: bench.schema });
  try {
    await recordedAgainstUnrecorded(bench, a, settings, report);
    await followerDelay(bench, a, b, settings, report);
    await resumeLatency(bench, a, b, settings, report);
  } finally {
    a.child.kill();
    b.child.kill();
  }
}

/** One /stream to its end; returns the ms from sending the request to the first text delta. */
async function streamToEnd(url: string, sessionId: string): Promise<number> {
  const start = wallClock();
  let firstDelta: number | undefined;
  const { stream } = await startRunStream(url, sessionId, headers, (event, at) => {
    if (event.event === 'text.delta') firstDelta ??= at - start;
  });
  await stream.done;
  if (firstDelta === undefined) throw new Error(`no delta from ${url}`);
  return firstDelta;
}

async function recordedAgainstUnrecorded(bench: BenchDatabase, server: Server, settings: DurabilitySettings, report: Report) {
  const contenders = { recorded: `${server.url}/d/stream`, unrecorded: `${server.url}/n/stream` };
  const names = ['recorded', 'unrecorded'] as const;
  // Warm-up of both, then rounds alternating which goes first, each on a new chat.
  for (const name of names) {
    const [chat] = await createChats(bench, 1);
    for (let i = 0; i < 10; i++) await streamToEnd(contenders[name], chat!);
  }
  const latency: Record<string, number[]> = { recorded: [], unrecorded: [] };
  const throughput: Record<string, number[]> = { recorded: [], unrecorded: [] };
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 === 0 ? names : ([...names].reverse() as typeof names[number][]);
    for (const name of order) {
      const [chat] = await createChats(bench, 1);
      const times: number[] = [];
      for (let i = 0; i < settings.streamsPerRound; i++) times.push(await streamToEnd(contenders[name], chat!));
      latency[name]!.push(median(times));
    }
    for (const name of order) {
      const chats = await createChats(bench, settings.clients);
      const deadline = performance.now() + settings.windowMs;
      let runs = 0;
      await Promise.all(
        chats.map(async (chat) => {
          while (performance.now() < deadline) {
            await streamToEnd(contenders[name], chat);
            runs++;
          }
        }),
      );
      throughput[name]!.push(runs / (settings.windowMs / 1000));
    }
  }
  const latencyRatio = median(latency.recorded!.map((value, round) => value / latency.unrecorded![round]!));
  report.add({
    section: SECTION,
    name: `/stream of ${STREAM_DELTAS} deltas: request → first delta, recorded vs recordEvents: false`,
    versus: 'recorded / not recorded',
    contenderMs: median(latency.recorded!),
    baselineMs: median(latency.unrecorded!),
    ratio: latencyRatio,
    goal: '≤ 1.1',
    met: latencyRatio <= 1.1,
  });
  // Time per run, recorded over unrecorded: the inverse of the throughputs.
  const throughputRatio = median(throughput.unrecorded!.map((value, round) => value / throughput.recorded![round]!));
  report.add({
    section: SECTION,
    name: `/stream of ${STREAM_DELTAS} deltas: throughput, ${settings.clients} clients, recorded vs recordEvents: false`,
    versus: 'recorded / not recorded (time per run)',
    value: median(throughput.recorded!),
    unit: `runs/s vs ${median(throughput.unrecorded!).toFixed(0)} runs/s`,
    ratio: throughputRatio,
    goal: '≤ 1.1',
    met: throughputRatio <= 1.1,
  });
}

/**
 * The statements one streamed run sends on an existing chat, counted on a Kysely that logs them,
 * by number of deltas (all at once, as an instant model streams them), with and without
 * recorded events; then one run whose deltas come over a second, as a real model's do.
 */
async function statementsPerStream(bench: BenchDatabase, settings: DurabilitySettings, report: Report) {
  let statements = 0;
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool(bench.poolConfig) }),
    log: (event) => {
      if (event.level === 'query') statements++;
    },
  });
  const paced: DeltaScript = { deltas: 100, paceMs: 10 };
  const scripts = new Map<string, DeltaScript>([
    ...settings.deltaCounts.map((deltas) => [`d${deltas}`, { deltas }] as const),
    ['paced', paced],
  ]);
  const runner = new Runner({ tracingDisabled: true, modelProvider: { getModel: (name) => deltaModel(scripts.get(name!)!) } });
  const app = express();
  for (const name of scripts.keys()) {
    const agent = new Agent({ name: 'Counted', model: name });
    app.use(createAgentRouter(agent, `/${name}/recorded`, () => db, { getUserId: () => 'bench', runner }));
    app.use(createAgentRouter(agent, `/${name}/unrecorded`, () => db, { getUserId: () => 'bench', runner, recordEvents: false }));
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const count = async (path: string): Promise<{ statements: number; ms: number }> => {
    const [chat] = await createChats(bench, 1);
    await streamToEnd(`${base}${path}/stream`, chat!); // the router's first sweep and probes
    await sleep(20);
    statements = 0;
    const start = performance.now();
    await streamToEnd(`${base}${path}/stream`, chat!);
    const ms = performance.now() - start;
    await sleep(100); // anything the run still writes after its stream ended
    return { statements, ms };
  };
  try {
    let first: number | undefined;
    for (const deltas of settings.deltaCounts) {
      const recorded = await count(`/d${deltas}/recorded`);
      const unrecorded = await count(`/d${deltas}/unrecorded`);
      first ??= recorded.statements;
      const last = deltas === settings.deltaCounts.at(-1);
      report.valueRow(
        SECTION,
        `SQL statements per /stream run of ${deltas.toLocaleString('en')} delta${deltas > 1 ? 's' : ''} (streamed at once)`,
        recorded.statements,
        `statements (recordEvents: false: ${unrecorded.statements})`,
        last ? { goal: `= ${first} (as for 1 delta)`, met: (value) => value === first } : undefined,
      );
    }
    const recorded = await count('/paced/recorded');
    const unrecorded = await count('/paced/unrecorded');
    // Batches of at most one statement per EVENT_FLUSH_MS: the extra statements are bounded by time.
    const bound = Math.ceil(recorded.ms / EVENT_FLUSH_MS) + 1;
    report.valueRow(
      SECTION,
      `SQL statements per /stream run of ${paced.deltas} deltas, one every ${paced.paceMs} ms (${(recorded.ms / 1000).toFixed(1)} s)`,
      recorded.statements,
      `statements (recordEvents: false: ${unrecorded.statements}, counting the instance's cancel checks, one every ${CANCEL_POLL_MS} ms)`,
      {
        goal: `≤ ${unrecorded.statements + bound} (one batch per ${EVENT_FLUSH_MS} ms, not one per delta)`,
        met: (value) => value <= unrecorded.statements + bound,
      },
    );
  } finally {
    server.close();
    await db.destroy();
  }
}

/**
 * A run on instance A whose deltas carry the time they were produced, followed on instance B
 * (through PostgreSQL: B polls) and on A itself (from memory): production → arrival of each delta.
 */
async function followerDelay(bench: BenchDatabase, a: Server, b: Server, settings: DurabilitySettings, report: Report) {
  const delays: Record<'other' | 'same', number[]> = { other: [], same: [] };
  for (let i = 0; i < settings.followedRuns * 2; i++) {
    const where = i % 2 === 0 ? 'other' : 'same';
    const [chat] = await createChats(bench, 1);
    const producer = await startRunStream(`${a.url}/p/stream`, chat!, headers);
    const runId = producer.runId;
    let connected = Infinity;
    let deltas = 0;
    const stream = await openSse(`${(where === 'other' ? b : a).url}/chats/${chat}/runs/${runId}/stream`, { headers }, {
      onEvent: (event, at) => {
        if (event.event !== 'text.delta') return;
        deltas++;
        const stamp = Number(/t=([\d.]+)/.exec(event.data)![1]);
        // Deltas made before the follower connected come as a replay: not a follower's delay.
        if (stamp > connected) delays[where].push(at - stamp);
      },
    });
    connected = wallClock();
    if (stream.status !== 200) throw new Error(`following answered ${stream.status}`);
    await Promise.all([stream.done, producer.stream.done]);
    if (deltas !== FOLLOWED_DELTAS) throw new Error(`the follower got ${deltas} of ${FOLLOWED_DELTAS} deltas`);
  }
  const polling = `polling every ${FOLLOW_POLL_MS} ms; events written in batches every ${EVENT_FLUSH_MS} ms`;
  report.add({
    section: SECTION,
    name: 'Follower on another instance: delta produced → delta received',
    value: percentile(delays.other, 50),
    unit: `ms p50, ${percentile(delays.other, 95).toFixed(1)} ms p95 (${delays.other.length} deltas; ${polling})`,
  });
  report.add({
    section: SECTION,
    name: 'Follower on the instance that runs it: delta produced → delta received',
    value: percentile(delays.same, 50),
    unit: `ms p50, ${percentile(delays.same, 95).toFixed(2)} ms p95 (${delays.same.length} deltas; from memory)`,
  });
}

/** A finished run of RESUMED_DELTAS deltas, resumed from its middle on the other instance. */
async function resumeLatency(bench: BenchDatabase, a: Server, b: Server, settings: DurabilitySettings, report: Report) {
  const [chat] = await createChats(bench, 1);
  const { runId, stream } = await startRunStream(`${a.url}/r/stream`, chat!, headers);
  await stream.done;
  const lastSeen = RESUMED_DELTAS / 2;
  const url = `${b.url}/chats/${chat}/runs/${runId}/stream`;
  const resume = async (): Promise<number> => {
    const start = wallClock();
    let first: { at: number; id?: string } | undefined;
    const stream = await openSse(url, { headers: { ...headers, 'last-event-id': String(lastSeen) } }, {
      onEvent: (event, at) => {
        first = { at, id: event.id };
        return true;
      },
    });
    await stream.done;
    if (first?.id !== String(lastSeen + 1)) throw new Error(`the resume started at event ${first?.id}, not ${lastSeen + 1}`);
    return first.at - start;
  };
  for (let i = 0; i < 10; i++) await resume();
  const times: number[] = [];
  for (let i = 0; i < settings.resumes; i++) times.push(await resume());
  report.add({
    section: SECTION,
    name: `Resume a finished run of ${RESUMED_DELTAS.toLocaleString('en')} deltas from its middle (Last-Event-ID), another instance: request → first replayed event`,
    value: percentile(times, 50),
    unit: `ms p50, ${percentile(times, 95).toFixed(2)} ms p95`,
  });
}
