import { Agent, Runner, tool, Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse, type protocol } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelResponder } from '@openai/agents/testing';
import { sql } from 'kysely';
import { z } from 'zod';
import type { AnyKysely } from '../../src/db/schema.js';
import { recallTool, rememberTool } from '../../src/memories/memory-tools.js';
import { waitFor } from '../helpers/models.js';

/**
 * The agents the fuzzer and the isolation matrix serve, so that every endpoint has something to
 * act on: runs that wait for an approval, memories, and runs that stay running.
 */

/** The text of the newest user message the model was sent. */
export function lastUserText(input: ModelRequest['input']): string {
  if (typeof input === 'string') return input;
  const user = (input as AgentInputItem[]).filter((item) => 'role' in item && item.role === 'user').at(-1) as { content: unknown } | undefined;
  if (typeof user?.content === 'string') return user.content;
  if (Array.isArray(user?.content)) return user.content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('');
  return '';
}

/** A tool that needs a person's approval before it runs. */
export const deleteTask = tool({
  name: 'delete_task',
  description: 'Deletes a task.',
  parameters: z.object({ task: z.string() }),
  needsApproval: true,
  execute: async ({ task }) => `deleted ${task}`,
});

/** What the keeper's model was sent, call by call (to see which memories a run was given). */
export interface ModelCall {
  userText: string;
  instructions: string;
}

/**
 * A runner whose model does what the newest user message says: `approve <call id>` asks to run
 * `delete_task` under that call id (the run waits for approval), `remember <text>` and
 * `recall <words>` call the memory tools with the rest of the message, anything else is echoed.
 * After a tool's output it answers `done: <output>`.
 */
export function keeperRunner(calls: ModelCall[] = []): Runner {
  const respond = ({ request }: { request: ModelRequest }) => {
    const input = request.input as AgentInputItem[];
    const text = lastUserText(input);
    calls.push({ userText: text, instructions: request.systemInstructions ?? '' });
    const last = typeof input === 'string' ? undefined : input.at(-1);
    if (last && 'type' in last && last.type === 'function_call_result') {
      const output = last.output as string | { type?: string; text?: string };
      const text = typeof output === 'string' ? output : output.type === 'text' ? output.text : JSON.stringify(output);
      return [assistantMessage(`done: ${text}`)];
    }
    const approve = /^approve (\S{1,64})/.exec(text);
    if (approve) return [functionCall('delete_task', { task: 'milk' }, { callId: approve[1]! })];
    const remember = /^remember ([\s\S]*)$/.exec(text);
    if (remember) return [functionCall('remember', { content: remember[1]!, importance: 0.5 }, { callId: 'call_remember' })];
    const recall = /^recall ([\s\S]*)$/.exec(text);
    if (recall) return [functionCall('recall', { query: recall[1]! }, { callId: 'call_recall' })];
    return [assistantMessage(`echo: ${text}`)];
  };
  return new Runner({
    tracingDisabled: true,
    modelProvider: { getModel: () => new ScriptedModel(Array.from({ length: 8 }, () => modelResponder(respond))) },
  });
}

export function keeperAgent(): Agent {
  return new Agent({ name: 'Keeper', model: 'scripted', tools: [deleteTask, rememberTool(), recallTool()] });
}

/**
 * A model that says "working" and then holds until `release()` or its run is aborted: runs that
 * stay `running` for as long as a test needs them to.
 */
export class HeldModel implements Model {
  readonly #released = new AbortController();

  release(): void {
    this.#released.abort();
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    await this.#hold(request.signal);
    return { output: [assistantMessage('released')], usage: new Usage(), responseId: 'held' };
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<protocol.StreamEvent> {
    yield { type: 'response_started' };
    yield { type: 'output_text_delta', delta: 'working' };
    await this.#hold(request.signal);
    const usage = { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0, inputTokensDetails: [], outputTokensDetails: [] };
    yield { type: 'response_done', response: { id: 'held', usage, output: [assistantMessage('working')] } };
  }

  async #hold(signal: AbortSignal | undefined): Promise<void> {
    if (this.#released.signal.aborted) return;
    await waitFor(24 * 60 * 60 * 1000, AbortSignal.any([this.#released.signal, ...(signal ? [signal] : [])])).catch((error) => {
      if (!this.#released.signal.aborted) throw error;
    });
  }
}

/** Waits until the run has recorded at least `count` events (its batches are written every 50 ms). */
export async function eventsRecorded(db: AnyKysely, runId: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM agent_run_events WHERE run_id = ${runId}`.execute(db);
    if (Number(rows[0]!.n) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`run ${runId} did not record ${count} events`);
}

/** Waits until no run of the database is running any more (after releasing held runs). */
export async function noRunRunning(db: AnyKysely): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM agent_runs WHERE status = 'running'`.execute(db);
    if (Number(rows[0]!.n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Everything stored of one user, as JSON text: their chats and each chat's items, runs, run
 * events and history operations, their user state and their memories, every column. Two equal
 * texts mean not one byte of the user's data changed.
 */
export async function userData(db: AnyKysely, userId: string): Promise<string> {
  const { rows } = await sql<{ data: string }>`
    WITH chats AS (SELECT id FROM agent_chats WHERE user_id = ${userId}),
         runs AS (SELECT id FROM agent_runs WHERE session_id IN (SELECT id FROM chats) OR user_id = ${userId})
    SELECT json_build_object(
      'chats', (SELECT json_agg(c ORDER BY c.id) FROM agent_chats c WHERE c.id IN (SELECT id FROM chats)),
      'items', (SELECT json_agg(i ORDER BY i.session_id, i.position) FROM agent_items i WHERE i.session_id IN (SELECT id FROM chats)),
      'runs', (SELECT json_agg(r ORDER BY r.id) FROM agent_runs r WHERE r.id IN (SELECT id FROM runs)),
      'events', (SELECT json_agg(e ORDER BY e.run_id, e.id) FROM agent_run_events e WHERE e.run_id IN (SELECT id FROM runs)),
      'operations', (SELECT json_agg(o ORDER BY o.session_id, o.operation_id) FROM agent_history_operations o WHERE o.session_id IN (SELECT id FROM chats)),
      'user_state', (SELECT json_agg(s) FROM agent_user_state s WHERE s.user_id = ${userId}),
      'memories', (SELECT json_agg(m ORDER BY m.id) FROM agent_memories m WHERE m.user_id = ${userId})
    )::text AS data
  `.execute(db);
  return rows[0]!.data;
}
