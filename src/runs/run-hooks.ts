import { runJson } from '../chats/chat-json.js';
import type { RunRecordBody } from '../chats/chat-payloads.js';
import { toRunRecord } from '../chats/postgres-chat-store.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import type { Logger } from '../http/logger.js';

/** What a run hook is given: the run's record, as `GET /chats/:id/runs/:run_id` answers it, and whose run it is. */
export interface RunHookRecord extends RunRecordBody {
  user_id: string;
}

/**
 * Run lifecycle hooks, for billing, audit and metrics. Each is called once per run; an error it
 * throws (or a promise it rejects) is logged and never fails, delays or loses the run.
 */
export interface RunHooks {
  /**
   * Called once a run is recorded and holds its chat, before the agent starts, with its record
   * (status `running`). Awaited: the agent starts when it returns, so keep it quick (or do not
   * return the promise of slow work).
   */
  onRunStart?: (run: RunHookRecord) => void | Promise<void>;
  /**
   * Called once the run's end is recorded (`completed`, `failed` or `cancelled`; not while it
   * waits for approval), with its final record: usage of every stretch, duration, error. Not
   * awaited by the response, which is sent first; `drain()` waits for it.
   */
  onRunFinish?: (run: RunHookRecord) => void | Promise<void>;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * The hooks of the agent routers of this process, by prefix, for runs that end without their
 * router: one waiting for approval cancelled through the chat router or expired by a sweep, one
 * whose process died, closed by whichever instance notices. The statements that close them are
 * conditional, so exactly one process reports each.
 */
const hooksByPrefix = new Map<string, { hooks: RunHooks; logger: Logger }>();

/** Registers a router's hooks for runs of its prefix that end elsewhere; returns the unregistration. */
export function registerRunHooks(prefix: string, hooks: RunHooks, logger: Logger): () => void {
  const entry = { hooks, logger };
  hooksByPrefix.set(prefix, entry);
  return () => {
    if (hooksByPrefix.get(prefix) === entry) hooksByPrefix.delete(prefix);
  };
}

/** Reads a run's record for its hooks; `undefined` once the run (or its chat) is deleted. */
export async function readRunHookRecord(db: AnyKysely, runId: string): Promise<RunHookRecord | undefined> {
  const row = await (db as AgentRouterDb).selectFrom('agent_runs').selectAll().where('id', '=', runId).executeTakeFirst();
  return row && { ...runJson(toRunRecord(row)), user_id: row.user_id ?? '' };
}

/** Calls one hook with the run's record, logging (never throwing) whatever goes wrong. */
export async function callRunHook(
  hook: ((run: RunHookRecord) => void | Promise<void>) | undefined,
  name: keyof RunHooks,
  db: AnyKysely,
  runId: string,
  logger: Logger,
): Promise<void> {
  if (!hook) return;
  try {
    const record = await readRunHookRecord(db, runId);
    if (!record || (name === 'onRunFinish' && !TERMINAL.has(record.status))) return;
    await hook(record);
  } catch (error) {
    logger.error(`The ${name} hook failed for run ${runId}`, { error: String(error) });
  }
}

/**
 * Reports runs just closed outside their router to the hooks registered for their prefix, in
 * the background. Inside a transaction nothing is reported: its rows are not committed yet.
 */
export function reportClosedRuns(db: AnyKysely, runIds: readonly string[]): void {
  if (runIds.length === 0 || hooksByPrefix.size === 0 || db.isTransaction) return;
  void (async () => {
    const rows = await (db as AgentRouterDb)
      .selectFrom('agent_runs')
      .select(['id', 'prefix'])
      .where('id', 'in', [...runIds])
      .execute();
    for (const row of rows) {
      const entry = row.prefix === null ? undefined : hooksByPrefix.get(row.prefix);
      if (entry) await callRunHook(entry.hooks.onRunFinish, 'onRunFinish', db, row.id, entry.logger);
    }
  })().catch(() => {
    // The database went away right after closing them: nothing to report to, nothing lost.
  });
}
