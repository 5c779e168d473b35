import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchDatabase } from '../database.js';
import { groupTimes, selfTimes, type CpuProfile } from '../cpu-profile.js';
import type { Report } from '../report.js';
import { createChats, load, startServer } from './http.js';

export interface ProfileSettings {
  clients: number;
  /** How long the profiled load lasts, in ms (after a warm-up of a quarter of that). */
  ms: number;
  /** Items of history each run is sent, as in the floor section. */
  history: number;
  /** Functions listed by name. */
  top: number;
}

/**
 * What a `/run`'s CPU time in the library's server is made of: the bench server under
 * `node --cpu-prof`, loaded with /run by `clients` clients; the samples taken during the load
 * (not start-up or warm-up) are summed by function and by group (express, kysely, pg, zod, the
 * SDK, the library's own code, JSON, Node.js, garbage collection), per /run.
 */
export async function profileRun(bench: BenchDatabase, settings: ProfileSettings, report: Report) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
  const server = await startServer(
    'library (profiled)',
    { MODE: 'library', SCHEMA: bench.schema, HISTORY_LIMIT: String(settings.history) },
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'],
  );
  const now = async () => ((await (await fetch(`${server.url}/__now`)).json()) as { us: number }).us;
  let runs: number;
  let from: number;
  let to: number;
  try {
    await load(server, await createChats(bench, settings.clients, settings.history), settings.ms / 4);
    const chats = await createChats(bench, settings.clients, settings.history);
    from = await now();
    runs = (await load(server, chats, settings.ms)).count;
    to = await now();
  } finally {
    // bench-server exits normally on SIGTERM, which is when Node writes the profile.
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
  }
  try {
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`node --cpu-prof wrote no profile in ${dir}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const times = selfTimes(profile, from, to);
    const busy = times.reduce((sum, { ms }) => sum + ms, 0);
    const share = (ms: number) => `${((100 * ms) / busy).toFixed(1)}%`;
    report.valueRow('profile', 'CPU time of the library’s server per /run', busy / runs, `ms (${runs} runs, ${settings.clients} clients)`);
    for (const { group, ms } of groupTimes(times)) {
      report.valueRow('profile', `CPU per /run: ${group}`, ms / runs, `ms (${share(ms)})`);
    }
    times.slice(0, settings.top).forEach(({ name, group, ms }, i) => {
      report.note('profile', `top function ${i + 1}`, `${name}, ${group}: ${(ms / runs).toFixed(3)} ms per /run (${share(ms)})`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
