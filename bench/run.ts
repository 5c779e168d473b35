/**
 * `npm run bench`: the library beside raw `pg` (and, in later sections, its peers) on a real
 * PostgreSQL given by DATABASE_URL. `--quick` runs a few rounds only, so CI can keep it working.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { updatePage } from '../scripts/docs/pages.js';
import { DATABASE_URL, openBenchDatabase } from './database.js';
import type { Settings } from './measure.js';
import { installedPeerVersions } from './peer-versions.js';
import { Report, type Results } from './report.js';
import { durabilityCosts, type DurabilitySettings } from './sections/durability.js';
import { httpBenchmarks, type HttpSettings } from './sections/http.js';
import { memoryAndMetrics, type MemoryMetricsSizes } from './sections/memory-metrics.js';
import { peerComparison } from './sections/peers.js';
import { floorBenchmarks, type FloorSettings } from './sections/floor.js';
import { profileRun, type ProfileSettings } from './sections/profile.js';
import { scaleOnOneMachine, type ScaleSettings } from './sections/scale.js';
import { sessionOperations } from './sections/session-ops.js';

const quick = process.argv.includes('--quick');
const settings: Settings = quick
  ? { warmup: 5, rounds: 3, batch: 5 }
  : { warmup: 200, rounds: 31, batch: 40 };
// Peers can take 200 ms per call (LangChain reads whole sessions): fewer, smaller rounds.
const peerSettings: Settings = quick ? { warmup: 1, rounds: 3, batch: 2 } : { warmup: 5, rounds: 11, batch: 5 };
const httpSettings: HttpSettings = quick
  ? { concurrency: [1, 8, 32], windowMs: 200, rounds: 2, streams: 10, growthSizes: [100, 1_000], growthRuns: 5, memoryRuns: [100, 500], longChat: 2_000 }
  : {
      concurrency: [1, 8, 32],
      windowMs: 2_000,
      rounds: 5,
      streams: 200,
      growthSizes: [100, 1_000, 10_000],
      growthRuns: 30,
      memoryRuns: [1_000, 10_000],
      longChat: 2_000,
    };
// The floor under a /run on a chat of about 60 items (the "ordinary chat"), and its profile.
const floorSettings: FloorSettings = quick
  ? { concurrency: [1, 8, 32], windowMs: 200, rounds: 2, history: 60 }
  : { concurrency: [1, 8, 32], windowMs: 2_000, rounds: 5, history: 60 };
const profileSettings: ProfileSettings = { clients: 8, ms: quick ? 1_000 : 10_000, history: 60, top: 12 };
// A million run records and 100,000 memories of one user; the quick run seeds a fiftieth and a twentieth.
const memoryMetricsSizes: MemoryMetricsSizes = quick ? { runs: 20_000, memories: 5_000 } : { runs: 1_000_000, memories: 100_000 };

const durabilitySettings: DurabilitySettings = quick
  ? { rounds: 2, streamsPerRound: 5, clients: 8, windowMs: 300, deltaCounts: [1, 10, 100, 1_000], followedRuns: 2, resumes: 20 }
  : { rounds: 9, streamsPerRound: 20, clients: 8, windowMs: 2_000, deltaCounts: [1, 10, 100, 1_000], followedRuns: 10, resumes: 200 };
// The quick run holds a tenth of the streams and pages a tenth of the chats.
const scaleSettings: ScaleSettings = quick
  ? { streams: 100, heartbeatMs: 500, chats: 1_000, paging: settings }
  : { streams: 1_000, heartbeatMs: 1_000, chats: 10_000, paging: { warmup: 20, rounds: 15, batch: 10 } };

const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
  memory_gb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
};

console.log(`express-agent-router benchmarks${quick ? ' (quick)' : ''}`);
console.log(`database: ${DATABASE_URL.replace(/\/\/[^@]*@/, '//')}; machine: ${machine.cpus}, ${machine.memory_gb} GiB, Node ${machine.node}`);
console.log(`settings: ${settings.warmup} warm-up ops, ${settings.rounds} rounds of ${settings.batch} ops per contender, alternating\n`);

// `--only=session|peers|http|floor|memory-metrics|durability|scale` runs one section (to work on it); by default, all of them.
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const report = new Report();
const bench = await openBenchDatabase();
try {
  const { rows } = await bench.raw.query<{ version: string }>('select version()');
  Object.assign(machine, { postgres: rows[0]!.version.split(' ').slice(0, 2).join(' ') });
  if (!only || only === 'session') {
    console.log('Session operations');
    await sessionOperations(bench, settings, report);
  }
  if (!only || only === 'peers') {
    console.log('\nPeers');
    await peerComparison(bench, peerSettings, report);
  }
  if (!only || only === 'http') {
    console.log('\nHTTP, growth and memory');
    await httpBenchmarks(bench, httpSettings, report);
  }
  if (!only || only === 'floor') {
    console.log('\nThe floor under a /run, and its profile');
    await floorBenchmarks(bench, floorSettings, report);
    await profileRun(bench, profileSettings, report);
  }
  if (!only || only === 'memory-metrics') {
    console.log('\nMemories and metrics');
    await memoryAndMetrics(bench, settings, memoryMetricsSizes, report);
  }
  if (!only || only === 'durability') {
    console.log('\nDurability');
    await durabilityCosts(bench, durabilitySettings, report);
  }
  if (!only || only === 'scale') {
    console.log('\nScale');
    await scaleOnOneMachine(bench, scaleSettings, report);
  }
} finally {
  await bench.close();
}

console.log(`\n${report.table()}\n`);
const results: Results = {
  date: new Date().toISOString(),
  quick,
  settings,
  machine,
  peers: installedPeerVersions(),
  rows: report.rows,
};
// Only a full run of every section is the source of docs/benchmarks.md; a quick or partial run
// goes to its own file (both ignored by git).
const name = quick ? 'quick' : only ? 'partial' : 'latest';
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/${name}.json`, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(`Figures written to bench/results/${name}.json`);
if (name === 'latest') {
  updatePage('benchmarks');
  console.log('docs/benchmarks.md rendered from them');
}
const missed = report.rows.filter((row) => row.met === false);
if (missed.length > 0) console.log(`Goals not met: ${missed.map((row) => row.name).join('; ')}`);
if (quick) console.log('(A quick run: a few rounds, so its ratios are indicative only; goals are judged on `npm run bench`.)');
