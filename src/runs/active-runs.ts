import type { EventListener } from './event-recorder.js';
import type { AgentRouterError } from '../errors.js';

/** What the rest of the process may do with a run this process executes. */
export interface LocalRun {
  readonly runId: string;
  readonly chatId: string;
  /** The id of the first event held in memory; earlier ones are read from PostgreSQL. */
  readonly firstEventId: number;
  subscribe(afterId: number, listener: EventListener): () => void;
  cancel(reason?: AgentRouterError): void;
}

const runs = new Map<string, LocalRun>();

/**
 * The runs this process executes, by id, whichever router started them: a follower or a cancel
 * on this instance reaches them in memory, without waiting for a poll of PostgreSQL.
 */
export const activeRuns = {
  add(run: LocalRun): void {
    runs.set(run.runId, run);
  },
  remove(run: LocalRun): void {
    if (runs.get(run.runId) === run) runs.delete(run.runId);
  },
  get(runId: string): LocalRun | undefined {
    return runs.get(runId);
  },
};
