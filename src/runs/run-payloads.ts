import type { AgentInputItem } from '@openai/agents';

/**
 * The run API's request and response bodies and its events, as plain types a front end can
 * `import type` (the zod schemas that validate requests stay internal, so the declaration files
 * stay readable).
 */

/** `POST {prefix}/run` and `POST {prefix}/stream`. */
export interface RunRequestBody {
  /** A message, or a list of input items (user messages only, unless `acceptInputItems: "any"`). */
  input: string | AgentInputItem[];
  /** The chat to continue; without it, a new chat is created for the caller. */
  session_id?: string;
  /**
   * `/run` only: answer 202 at once and let the run go on under its lease; follow it with
   * `GET /chats/:chat_id/runs/:run_id/stream`.
   */
  background?: boolean;
}

/** Token usage of a run, as every answer reports it. */
export interface RunUsage {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

/** A tool call waiting for a person's decision. */
export interface PendingApproval {
  call_id: string;
  tool_name: string;
  /** The arguments the model gave, as the JSON text it sent. */
  arguments: string;
  /** The agent whose tool it is (after any handoff). */
  agent_name: string;
}

/** What a run that completed answers: `POST {prefix}/run`'s body less `success`, `run.completed`'s data. */
export interface RunAnswer {
  status: 'completed';
  final_output: unknown;
  session_id: string;
  run_id: string;
  /** The agent that answered, after any handoff. */
  agent_name: string;
  usage: RunUsage;
}

/** What a run that stopped to wait for tool approvals answers (`run.awaiting_approval`'s data). */
export interface AwaitingApprovalAnswer {
  status: 'awaiting_approval';
  final_output: null;
  session_id: string;
  run_id: string;
  agent_name: string;
  usage: RunUsage;
  approvals: PendingApproval[];
}

/** `POST {prefix}/run`'s answer. */
export type RunResponseBody = (RunAnswer | AwaitingApprovalAnswer) & { success: true };

/** `POST {prefix}/run` with `"background": true`: 202 at once. */
export interface BackgroundRunResponseBody {
  success: true;
  status: 'running';
  run_id: string;
  session_id: string;
}

/** The error of a failed run or request, as the JSON envelope and `run.failed` carry it. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * The events of a run, as `POST {prefix}/stream` sends them and followers replay them, as a
 * discriminated union on `event`: each arrives as `id: <n>` (1, 2, 3... within the run),
 * `event: <event>`, `data: <JSON of data>`. A run's events end with exactly one terminal event:
 * `run.completed`, `run.failed`, `run.cancelled`, or `run.awaiting_approval` (after which a
 * decision resumes the run with `run.resumed` and more events, up to its next terminal event).
 */
export type RunEvent =
  | { event: 'run.started'; data: { session_id: string; run_id: string; agent_name: string } }
  | {
      event: 'run.resumed';
      data: { session_id: string; run_id: string; agent_name: string; decisions: { call_id: string; approved: boolean }[] };
    }
  | { event: 'text.delta'; data: { delta: string } }
  | { event: 'tool.called'; data: { name: string; arguments: string; call_id: string | null } }
  | { event: 'tool.output'; data: { call_id: string | null; output: string } }
  | { event: 'agent.updated'; data: { agent_name: string } }
  | { event: 'state.updated'; data: { state: Record<string, unknown>; user_state: Record<string, unknown> } }
  | { event: 'run.completed'; data: RunAnswer }
  | { event: 'run.awaiting_approval'; data: AwaitingApprovalAnswer }
  | { event: 'run.failed'; data: { error: ErrorBody } }
  | { event: 'run.cancelled'; data: { error: ErrorBody } };

/** The name of a run event. */
export type RunEventName = RunEvent['event'];

/** A run event as recorded: with its id within the run. */
export type RecordedRunEvent = RunEvent & { id: number };

/** The events that end a stretch of a run (and a stream that follows it). */
export const TERMINAL_EVENTS: ReadonlySet<RunEventName> = new Set([
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.awaiting_approval',
]);

export function isTerminalEvent(event: { event: string }): boolean {
  return TERMINAL_EVENTS.has(event.event as RunEventName);
}
