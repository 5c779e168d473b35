// Proves that DATABASE_URL (or the first argument) leads to a pooler in transaction mode, so that
// the suites run through it test what they claim: two clients connected at once get the same
// server connection for their statements, and a session advisory lock that one of them takes is
// then held for the other (re-entrant, same server session). Directly, or through a pooler in
// session mode, each client has a server connection of its own and the lock is not theirs.
import pg from 'pg';

const url = process.argv[2] ?? process.env.DATABASE_URL;
const KEY = 7420186553190417002n;

const a = new pg.Client({ connectionString: url });
const b = new pg.Client({ connectionString: url });
await a.connect();
await b.connect();
try {
  const pid = async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const [pidA, pidB] = [await pid(a), await pid(b)];
  await a.query('SELECT pg_advisory_lock($1)', [KEY.toString()]);
  const { rows } = await b.query('SELECT pg_try_advisory_lock($1) AS mine', [KEY.toString()]);
  const shared = pidA === pidB && rows[0].mine === true;
  console.log(
    `two clients at once: server pids ${pidA} and ${pidB}; client B ${rows[0].mine ? 'holds' : 'does not hold'} the session advisory lock client A took`,
  );
  if (!shared) {
    console.error('Not a pooler in transaction mode: the two clients have server sessions of their own.');
    process.exitCode = 1;
  }
} finally {
  // Whoever holds the lock now, release every one of this key, then leave.
  await a.query('SELECT pg_advisory_unlock_all()').catch(() => {});
  await b.query('SELECT pg_advisory_unlock_all()').catch(() => {});
  await Promise.all([a.end(), b.end()]);
}
