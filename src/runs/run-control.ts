import { RunContext, RunState, Usage } from '@openai/agents';
import { sql } from 'kysely';
import type { ChatStore } from '../chats/chat-store.js';
import { decodeJsonObject, encodeJson } from '../db/item-codec.js';
import type { AgentRouterDb, AnyKysely } from '../db/schema.js';
import {
  AgentRouterError,
  InvalidRequestError,
  RunFinishedError,
  RunNotAwaitingApprovalError,
  RunNotFoundError,
} from '../errors.js';
import { activeRuns } from './active-runs.js';
import { ActiveRun, type RunEngineSettings, type RunIds, type ToolStats } from './run-engine.js';
import { claimWaitingRun, closeWaitingRun, usageOf, type StoredApproval } from './run-queries.js';

/** How long a cancel waits for the run to stop before it answers that the run is stopping. */
const CANCEL_WAIT_MS = 3_000;

/**
 * Cancels a run of the chat, from any instance. A run this instance executes is aborted at once;
 * one executed elsewhere gets a cancel request in PostgreSQL, which its instance sees within a
 * poll (250 ms) and aborts it; one waiting for approval is closed here and now (its waiting calls
 * answered as not run, the chat freed). Waits up to a few seconds for the run to stop and
 * returns its status then: `cancelled`, or still `running` if it has not stopped yet. Cancelling
 * a cancelled run again is harmless; cancelling one that completed or failed throws 409
 * `run_finished`. The caller checked that the chat is the user's.
 */
export async function cancelRun(db: AnyKysely, chatId: string, runId: string): Promise<'cancelled' | 'running'> {
  const local = activeRuns.get(runId);
  if (local && local.chatId === chatId) local.cancel();
  const { rows } = await sql<{ status: string }>`
    UPDATE agent_runs
    SET cancel_requested_at = CASE WHEN status = 'running' THEN coalesce(cancel_requested_at, now()) ELSE cancel_requested_at END
    WHERE id = ${runId} AND session_id = ${chatId}
    RETURNING status
  `.execute(db);
  const status = rows[0]?.status;
  if (status === undefined) throw new RunNotFoundError();
  if (status === 'awaiting_approval') {
    await closeWaitingRun(db, {
      chatId,
      runId,
      status: 'cancelled',
      errorCode: 'run_cancelled',
      errorMessage: 'The run was cancelled.',
      callOutput: 'The run was cancelled before this call was approved; it did not run.',
    });
  } else if (status === 'completed' || status === 'failed') {
    throw new RunFinishedError(status);
  }
  const deadline = Date.now() + CANCEL_WAIT_MS;
  for (;;) {
    const current = await runStatus(db, runId);
    if (current !== 'running' && current !== 'awaiting_approval') {
      if (current === 'cancelled') return 'cancelled';
      // It ended some other way while the cancel was on its way.
      throw new RunFinishedError(current ?? 'deleted');
    }
    if (Date.now() > deadline) return 'running';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function runStatus(db: AnyKysely, runId: string): Promise<string | undefined> {
  const row = await (db as AgentRouterDb).selectFrom('agent_runs').select('status').where('id', '=', runId).executeTakeFirst();
  return row?.status;
}

/** One decision on a waiting tool call. */
export interface ApprovalDecision {
  call_id: string;
  approved: boolean;
  /** Approve (or reject) every later call of this tool in the run too. */
  always?: boolean;
  /** For a rejection: the text the model gets instead of the tool's output. */
  message?: string;
}

export interface ResumeArgs {
  db: AnyKysely;
  userId: string;
  runId: string;
  decisions: readonly ApprovalDecision[];
  store: ChatStore | undefined;
  /** The deciding request's run context: the resumed run's. */
  context: (ids: RunIds) => unknown;
  signal: AbortSignal;
}

/**
 * Resumes a run waiting for tool approvals with the caller's decisions, on this router's agent:
 * loads its RunState, applies the decisions (checked against the calls that wait: any other call
 * id is refused with 400 and nothing changes), takes the chat's lease and sets the run going again
 * under the same run id, its events going on from its last id. Exactly once: of concurrent
 * decisions on one run one resumes it and the others get 409 with the run's status; a decision
 * retried after the resume gets the same 409 and runs nothing. The caller's chat store (or the
 * owner-only rule) decides who may decide; a run that started on another prefix is not found.
 */
export async function resumeRun(settings: RunEngineSettings, args: ResumeArgs): Promise<ActiveRun> {
  const { db, runId } = args;
  const run = await sql<{
    session_id: string;
    owner_id: string | null;
    status: string;
    prefix: string | null;
    run_state: string | null;
    pending_approvals: unknown;
    requests: number;
    input_tokens: string | number;
    output_tokens: string | number;
    total_tokens: string | number;
    tool_calls: unknown;
  }>`
    SELECT run.session_id, chat.user_id AS owner_id, run.status, run.prefix, run.run_state, run.pending_approvals,
           run.requests, run.input_tokens, run.output_tokens, run.total_tokens, run.tool_calls
    FROM agent_runs AS run JOIN agent_chats AS chat ON chat.id = run.session_id
    WHERE run.id = ${runId}
  `
    .execute(db)
    .then((result) => result.rows[0]);
  const mayDecide = run && (args.store ? (await args.store.getChat(args.userId, run.session_id)) !== undefined : run.owner_id === args.userId);
  if (!run || !mayDecide || run.prefix !== settings.prefix) throw new RunNotFoundError();
  if (run.status !== 'awaiting_approval' || !run.run_state) throw new RunNotAwaitingApprovalError(run.status);

  const waiting = decodeJsonObject<StoredApproval[]>(run.pending_approvals) ?? [];
  checkDecisions(args.decisions, waiting);
  const ids = { runId, chatId: run.session_id, userId: args.userId };
  const context = await args.context({ userId: args.userId, sessionId: run.session_id, runId });
  const runContext = context instanceof RunContext ? context : new RunContext(context);
  const usageBefore = usageOf({
    requests: Number(run.requests),
    inputTokens: Number(run.input_tokens),
    outputTokens: Number(run.output_tokens),
    totalTokens: Number(run.total_tokens),
  });
  // The deciding request's context replaces the stored one, usage included: carry the usage
  // recorded so far over, so that the run's totals (and its answer's) go on from there.
  runContext.usage.add(new Usage({ ...usageBefore }));
  let state: RunState<any, any>;
  try {
    state = await RunState.fromStringWithContext(settings.agent, run.run_state, runContext, { contextStrategy: 'replace' });
    const interruptions = state.getInterruptions();
    for (const decision of args.decisions) {
      const item = interruptions.find((candidate) => callIdOf(candidate.rawItem) === decision.call_id);
      if (!item) throw new Error(`The run state has no pending call ${decision.call_id}.`);
      if (decision.approved) state.approve(item, { alwaysApprove: decision.always ?? false });
      else state.reject(item, { alwaysReject: decision.always ?? false, ...(decision.message ? { message: decision.message } : {}) });
    }
  } catch (error) {
    throw new AgentRouterError('An internal error occurred.', { status: 500, code: 'internal_error', cause: error });
  }

  const first = {
    session_id: run.session_id,
    run_id: runId,
    // The agent the run goes on with (after a handoff, not the one it started on).
    agent_name: state.currentAgent?.name ?? settings.agent.name,
    decisions: args.decisions.map((decision) => ({ call_id: decision.call_id, approved: decision.approved })),
  };
  const claimed = await claimWaitingRun(db, {
    userId: args.userId,
    chatId: run.session_id,
    runId,
    leaseTtlMs: settings.leaseTtlMs,
    firstEvent: { event: 'run.resumed', data: encodeJson(first, 'event') },
  });
  if (claimed === undefined) throw new RunNotAwaitingApprovalError((await runStatus(db, runId)) ?? 'deleted');
  return ActiveRun.resumed(settings, {
    db,
    ids,
    state,
    runContext,
    first: { id: claimed.eventId, event: 'run.resumed', data: first },
    loaded: claimed,
    usageBefore,
    toolsBefore: decodeJsonObject<ToolStats | null>(run.tool_calls) ?? {},
    waitingCalls: new Map(waiting.map((approval) => [approval.call_id, approval.tool_name])),
    signal: args.signal,
  });
}

function checkDecisions(decisions: readonly ApprovalDecision[], waiting: readonly StoredApproval[]): void {
  const pending = new Set(waiting.map((approval) => approval.call_id));
  const seen = new Set<string>();
  decisions.forEach((decision, index) => {
    if (!pending.has(decision.call_id)) {
      throw new InvalidRequestError(
        `Invalid body: decisions.${index}.call_id ${JSON.stringify(decision.call_id)} is not a call waiting for approval on this run.`,
        [{ path: ['decisions', index, 'call_id'], code: 'custom', message: 'Not a pending call of this run' }],
      );
    }
    if (seen.has(decision.call_id)) {
      throw new InvalidRequestError(`Invalid body: decisions.${index}.call_id is decided twice.`, [
        { path: ['decisions', index, 'call_id'], code: 'custom', message: 'Decided twice' },
      ]);
    }
    seen.add(decision.call_id);
  });
}

function callIdOf(raw: unknown): string | undefined {
  const item = raw as { callId?: string; id?: string };
  return item.callId ?? item.id;
}
