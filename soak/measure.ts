import { sql, type Kysely } from 'kysely';

/** One instance's figures, read from its /__soak/stats endpoint. */
export interface InstanceFigures {
  rss: number;
  heapUsed: number;
  /** The heap V8 holds (used or not): what of the RSS is the JS heap. */
  heapTotal: number;
  /** Memory outside the JS heap: C++ objects bound to JS (external), of which Buffers (arrayBuffers). */
  external: number;
  arrayBuffers: number;
  httpConnections: number;
  poolConnections: number;
  toolRuns: number;
  warnings: number;
  errors: number;
  logged: string[];
}

/** The whole deployment at one moment. */
export interface Snapshot {
  instances: InstanceFigures[];
  /** Connections to the soak's database, the driver's own excepted, and those idle in a transaction. */
  dbConnections: number;
  idleInTransaction: number;
  /** Chats whose lease is held (by a run that did not release it, when nothing runs). */
  leasesHeld: number;
  /** Chats blocked by a run waiting for approval. */
  pendingApprovals: number;
  runsRunning: number;
  runsAwaiting: number;
  runsByStatus: Record<string, number>;
}

/** Reads every figure; with `gc`, each instance collects garbage first (memory at rest). */
export async function snapshot(db: Kysely<any>, instances: string[], gc: boolean): Promise<Snapshot> {
  const figures = await Promise.all(
    instances.map(async (url) => {
      const stats = (await (await fetch(`${url}/__soak/stats${gc ? '?gc=1' : ''}`)).json()) as any;
      if (gc && !stats.gc) throw new Error('the app process runs without --expose-gc');
      return {
        rss: stats.memory.rss,
        heapUsed: stats.memory.heapUsed,
        heapTotal: stats.memory.heapTotal,
        external: stats.memory.external,
        arrayBuffers: stats.memory.arrayBuffers,
        httpConnections: stats.httpConnections,
        poolConnections: stats.pool.total,
        toolRuns: stats.toolRuns,
        warnings: stats.warnings,
        errors: stats.errors,
        logged: stats.logged,
      };
    }),
  );
  const { rows: connections } = await sql<{ state: string | null; count: string }>`
    SELECT state, count(*) AS count FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY state
  `.execute(db);
  const { rows: chats } = await sql<{ leases: string; pending: string }>`
    SELECT count(lease_run_id) AS leases, count(pending_run_id) AS pending FROM agent_chats
  `.execute(db);
  const { rows: runs } = await sql<{ status: string; count: string }>`
    SELECT status, count(*) AS count FROM agent_runs GROUP BY status
  `.execute(db);
  const runsByStatus = Object.fromEntries(runs.map((row) => [row.status, Number(row.count)]));
  return {
    instances: figures,
    dbConnections: connections.reduce((sum, row) => sum + Number(row.count), 0),
    idleInTransaction: Number(connections.find((row) => row.state === 'idle in transaction')?.count ?? 0),
    leasesHeld: Number(chats[0]!.leases),
    pendingApprovals: Number(chats[0]!.pending),
    runsRunning: runsByStatus.running ?? 0,
    runsAwaiting: runsByStatus.awaiting_approval ?? 0,
    runsByStatus,
  };
}

/** Waits (up to `timeoutMs`) until no run is running: background runs end after their request. */
export async function untilAtRest(db: Kysely<any>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await sql<{ count: string }>`SELECT count(*) AS count FROM agent_runs WHERE status = 'running'`.execute(db);
    if (Number(rows[0]!.count) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Let the routers' own work after a run (event batches, releases) settle too.
  await new Promise((resolve) => setTimeout(resolve, 2000));
}
