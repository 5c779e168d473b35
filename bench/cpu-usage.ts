import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (100 on most Linux systems). */
let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, ms) used so far by every PostgreSQL process on this machine: the
 * backends of every connection and the server's own workers (WAL writer, checkpointer...), which
 * work for the statements too. Read from /proc, so it needs Linux and a local server; undefined
 * otherwise. Processes that exited take their time with them, so the callers keep their pools
 * open between two readings.
 */
export function postgresCpuMs(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return undefined;
  }
  let ticks = 0;
  let found = false;
  for (const pid of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // it exited since the listing
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so fields are counted after its ")".
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the comm.
    ticks += Number(fields[11]) + Number(fields[12]);
    found = true;
  }
  return found ? (ticks / ticksPerSecond) * 1000 : undefined;
}

/** This process's CPU time so far (user + system, ms). */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
