/**
 * `npm run bench`: the library beside raw `pg` (and, in later sections, its peers) on a real
 * PostgreSQL given by DATABASE_URL. `--quick` runs a few rounds only, so CI can keep it working.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { DATABASE_URL, openBenchDatabase } from './database.js';
import type { Settings } from './measure.js';
import { Report } from './report.js';
import { sessionOperations } from './sections/session-ops.js';

const quick = process.argv.includes('--quick');
const settings: Settings = quick
  ? { warmup: 5, rounds: 3, batch: 5 }
  : { warmup: 200, rounds: 31, batch: 40 };

const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
  memory_gb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
};

console.log(`express-agent-router benchmarks${quick ? ' (quick)' : ''}`);
console.log(`database: ${DATABASE_URL.replace(/\/\/[^@]*@/, '//')}; machine: ${machine.cpus}, ${machine.memory_gb} GiB, Node ${machine.node}`);
console.log(`settings: ${settings.warmup} warm-up ops, ${settings.rounds} rounds of ${settings.batch} ops per contender, alternating\n`);

const report = new Report();
const bench = await openBenchDatabase();
try {
  const { rows } = await bench.raw.query<{ version: string }>('select version()');
  Object.assign(machine, { postgres: rows[0]!.version.split(' ').slice(0, 2).join(' ') });
  console.log('Session operations');
  await sessionOperations(bench, settings, report);
} finally {
  await bench.close();
}

console.log(`\n${report.table()}\n`);
const results = {
  date: new Date().toISOString(),
  quick,
  settings,
  machine,
  rows: report.rows,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(quick ? './results/quick.json' : './results/latest.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`Figures written to bench/results/${quick ? 'quick' : 'latest'}.json`);
const missed = report.rows.filter((row) => row.met === false);
if (missed.length > 0) console.log(`Goals not met: ${missed.map((row) => row.name).join('; ')}`);
