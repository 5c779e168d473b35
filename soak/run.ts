// The soak: two app instances on one fresh database, a fixed number of virtual users sending
// mixed traffic for --minutes (default 10) or --max-requests (default 100,000), whichever comes
// first; then the figures at rest against those after the warm-up, and the checks. Not part of
// CI: `npm run soak` (or `npm run soak -- --minutes=1` while developing). Exits 1 on any FAIL.
// With --heap-snapshots=DIR, each instance writes a heap snapshot at rest after the warm-up and
// after the traffic; `npx tsx soak/heap-diff.ts A B` says what grew between two of them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { migrate } from 'express-agent-router';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { checkHistories } from './checks.js';
import { snapshot, untilAtRest } from './measure.js';
import { formatSummary, judge } from './summary.js';
import { virtualUser, type Traffic } from './virtual-user.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'max-requests': { type: 'string', default: '100000' },
    users: { type: 'string', default: '12' },
    'warm-up-minutes': { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
    'heap-snapshots': { type: 'string' },
    // The instances' V8 heap limit, as in a container of about 512 MiB (see startInstance).
    'max-old-space-mib': { type: 'string', default: '256' },
  },
});
const minutes = Number(values.minutes);
const users = Number(values.users);
const POOL_MAX = 10;
const WORDS = 12;
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// A database of its own, so that pg_stat_activity counts the soak's connections only.
const name = `soak_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const pool = new pg.Pool({ connectionString: url.href, max: 1 });
const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
await migrate(db);
const children: ChildProcess[] = [];
let exitCode = 1;
try {
  const instances = await Promise.all(['soak-a', 'soak-b'].map((app) => startInstance(app, url.href)));
  console.log(`soak: database ${name}, instances ${instances.join(' ')}, ${users} users, ${minutes} min`);
  const traffic: Traffic = {
    instances,
    answer: Array.from({ length: WORDS }, (_, i) => `w${i + 1}`).join(' '),
    requests: 0,
    maxRequests: Number(values['max-requests']),
    deadline: Infinity,
    turns: [],
    problems: new Map(),
    actions: { run: 0, stream: 0, follow: 0, cancel: 0, approval: 0 },
    approvals: { approved: 0, rejected: 0 },
    lateCancels: 0,
    slowCancels: 0,
  };
  const userIds = Array.from({ length: users }, (_, i) => `soak-user-${i}`);

  // Warm-up: the same traffic for a while, so that the start figures include what a process
  // allocates once and keeps (compiled code, pools, caches, a heap sized for the load) and only
  // growth shows at the end. A few requests are not enough: heap snapshots after 114 requests
  // and after 4 more minutes differed by 5 MiB, nearly all of it V8's compiled code and its
  // feedback, which tiers up over the first minutes of traffic.
  traffic.deadline = Date.now() + Number(values['warm-up-minutes']) * 60_000;
  await Promise.all(userIds.map((userId) => virtualUser(traffic, `${userId}-warm-up`)));
  await untilAtRest(db);
  const start = await snapshot(db, instances, true);
  await heapSnapshots(instances, 'start');
  console.log(`soak: warmed up (${traffic.requests} requests); traffic for ${minutes} min`);

  const trafficStart = Date.now();
  traffic.deadline = trafficStart + minutes * 60_000;
  let peakDbConnections = start.dbConnections;
  const sampler = setInterval(() => {
    sql<{ count: string }>`SELECT count(*) AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
      .execute(db)
      .then(({ rows }) => (peakDbConnections = Math.max(peakDbConnections, Number(rows[0]!.count))))
      .catch(() => {});
  }, 2000);
  const progress = setInterval(() => void reportProgress(traffic, instances), 60_000);
  await Promise.all(userIds.map((userId) => virtualUser(traffic, userId)));
  clearInterval(sampler);
  clearInterval(progress);
  const trafficMinutes = (Date.now() - trafficStart) / 60_000;

  await untilAtRest(db);
  const end = await snapshot(db, instances, true);
  await heapSnapshots(instances, 'end');
  const history = await checkHistories(db, traffic.turns);
  const figures = {
    minutes: trafficMinutes,
    bound: `${minutes} min or ${traffic.maxRequests} requests`,
    requests: traffic.requests,
    actions: traffic.actions,
    approvals: traffic.approvals,
    lateCancels: traffic.lateCancels,
    slowCancels: traffic.slowCancels,
    problems: traffic.problems,
    start,
    end,
    history,
    peakDbConnections,
    maxDbConnections: POOL_MAX * instances.length,
  };
  const verdicts = judge(figures);
  console.log(`\n${formatSummary(figures, verdicts)}`);
  for (const line of end.instances.flatMap((instance) => instance.logged)) console.log(`  logged: ${line}`);
  exitCode = verdicts.every((verdict) => verdict.pass) ? 0 : 1;
} finally {
  await Promise.all(children.map(stop));
  await db.destroy();
  if (values.keep) console.log(`soak: kept database ${name}`);
  else await admin(`DROP DATABASE ${name} WITH (FORCE)`);
}
process.exit(exitCode);

/** Once a minute: the traffic so far and each instance's memory (under load, no GC forced). */
async function reportProgress(traffic: Traffic, instances: string[]): Promise<void> {
  const memory = await Promise.all(
    instances.map(async (instance) => {
      const stats = (await (await fetch(`${instance}/__soak/stats`)).json()) as { memory: NodeJS.MemoryUsage };
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
      return `RSS ${mib(stats.memory.rss)} heap ${mib(stats.memory.heapUsed)}/${mib(stats.memory.heapTotal)} MiB`;
    }),
  ).catch((error) => [String(error)]);
  console.log(`soak: ${traffic.requests} requests, ${traffic.turns.length} turns; ${memory.join('; ')}`);
}

async function heapSnapshots(instances: string[], label: string): Promise<void> {
  if (!values['heap-snapshots']) return;
  for (const instance of instances) {
    const { file } = (await (await fetch(`${instance}/__soak/heap-snapshot?label=${label}`)).json()) as { file: string };
    console.log(`soak: heap snapshot ${file}`);
  }
}

/**
 * Starts one app process (with --expose-gc, for measurements at rest); resolves with its URL.
 * Its heap limit is set as a container's memory limit would set it: with V8's default on this
 * machine (4 GiB), an instance let its heap grow to 300 MiB between full collections under the
 * soak's load, and its RSS at rest then depended on how much of that V8 had given back (in one
 * ten-minute run, +40% on one instance and -17% on the other, their heaps flat). With a limit,
 * RSS at rest says what the process keeps, and a leak ends the instance within the run.
 */
async function startInstance(app: string, databaseUrl: string): Promise<string> {
  const nodeArgs = ['--expose-gc', `--max-old-space-size=${values['max-old-space-mib']}`];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'soak/app-process.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      APP_NAME: app,
      POOL_MAX: String(POOL_MAX),
      WORDS: String(WORDS),
      ...(values['heap-snapshots'] ? { SOAK_HEAP_DIR: resolvePath(values['heap-snapshots']) } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}`;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
