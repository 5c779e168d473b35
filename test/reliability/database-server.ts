import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { sleep } from '../helpers/agents.js';
import { POSTGRES_URL } from '../helpers/database.js';

/**
 * Stopping and starting the PostgreSQL server the suite runs on, for the tests of database
 * outages. By default it is the machine's cluster (`pg_ctlcluster`), as in CI, where the
 * reliability suite runs alone. With RELIABILITY_PGDATA set it is instead the private server of
 * that data directory (`pg_ctl`), listening on DATABASE_URL's port: a developer's own cluster,
 * so that the outages never hit a server other people use.
 */
const PGDATA = process.env.RELIABILITY_PGDATA;

function run(command: string, args: string[]): void {
  // pg_ctl refuses to run as root: run it as the server's owner.
  const [file, argv] = process.getuid?.() === 0 && command !== 'pg_ctlcluster' ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  execFileSync(file, argv, { stdio: 'ignore' });
}

function pgCtl(action: 'stop' | 'start'): void {
  if (PGDATA) {
    const bin = `/usr/lib/postgresql/${readdirSync('/usr/lib/postgresql')[0]}/bin/pg_ctl`;
    const port = new URL(POSTGRES_URL).port || '5432';
    const args = action === 'stop' ? ['-m', 'fast', 'stop'] : ['-w', '-l', `${PGDATA}/server.log`, '-o', `-p ${port} -k /tmp`, 'start'];
    return run(bin, ['-D', PGDATA, ...args]);
  }
  const version = readdirSync('/etc/postgresql')[0]!;
  run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])]);
}

/** One statement on a connection of its own (the app's pool is what the tests watch). */
export async function adminQuery(text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}

async function waitForServer(): Promise<void> {
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      return await adminQuery('select 1');
    } catch {
      await sleep(500);
    }
  }
  throw new Error('PostgreSQL did not come back');
}

/**
 * Stops the server, runs `whileDown` (the outage), then starts it again and waits until it
 * answers, even when `whileDown` throws.
 */
export async function databaseOutage<T>(whileDown: () => Promise<T>): Promise<T> {
  pgCtl('stop');
  try {
    return await whileDown();
  } finally {
    pgCtl('start');
    await waitForServer();
  }
}
