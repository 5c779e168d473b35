import type { AgentInputItem } from '@openai/agents';

/**
 * The agent router's request and response bodies and stream events, as plain types a front end
 * can `import type` (the zod schemas that validate them stay internal, so the declaration files
 * stay readable).
 */

/** `POST {prefix}/run` and `POST {prefix}/stream`. */
export interface RunRequestBody {
  /** A message, or a list of input items (user messages only, unless `acceptInputItems: "any"`). */
  input: string | AgentInputItem[];
  /** The chat to continue; without it, a new chat is created for the caller. */
  session_id?: string;
}

/** Token usage of a run, as every answer reports it. */
export interface RunUsage {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

/** What a successful run answers: `POST {prefix}/run`'s body less `success`, `run.completed`'s data. */
export interface RunAnswer {
  final_output: unknown;
  session_id: string;
  run_id: string;
  /** The agent that answered, after any handoff. */
  agent_name: string;
  usage: RunUsage;
}

/** `POST {prefix}/run`'s answer. */
export interface RunResponseBody extends RunAnswer {
  success: true;
}

/** The error of a failed run or request, as the JSON envelope and `run.failed` carry it. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * The server-sent events of `POST {prefix}/stream`, as a discriminated union on `event`: each
 * arrives as `id: <n>`, `event: <event>`, `data: <JSON of data>`.
 */
export type AgentStreamEvent =
  | { event: 'run.started'; data: { session_id: string; run_id: string; agent_name: string } }
  | { event: 'text.delta'; data: { delta: string } }
  | { event: 'tool.called'; data: { name: string; arguments: string; call_id: string | null } }
  | { event: 'tool.output'; data: { call_id: string | null; output: string } }
  | { event: 'agent.updated'; data: { agent_name: string } }
  | { event: 'run.completed'; data: RunAnswer }
  | { event: 'run.failed'; data: { error: ErrorBody } };

/** The name of a stream event. */
export type AgentStreamEventName = AgentStreamEvent['event'];
