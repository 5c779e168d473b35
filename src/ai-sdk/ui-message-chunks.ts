import type { RecordedRunEvent } from '../runs/run-payloads.js';
import { isToolFailure } from '../runs/tool-failures.js';

/**
 * The AI SDK's "UI message stream" (what `useChat` reads), as the library's run events translate
 * into it: a pure mapping, no I/O. Only the fields every `ai` client from 6.0 on accepts are sent
 * (older clients refuse unknown fields): anything else the library knows (the answering agent,
 * the run id) goes in `messageMetadata`.
 */

/** The chunks the library sends, a subset of `ai`'s `UIMessageChunk`. */
export type UiMessageChunk =
  | { type: 'start'; messageId: string; messageMetadata: UiMessageMetadata }
  | { type: 'start-step' }
  | { type: 'finish-step' }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'tool-input-available'; toolCallId: string; toolName: string; input: unknown }
  | { type: 'tool-output-available'; toolCallId: string; output: unknown }
  | { type: 'tool-output-error'; toolCallId: string; errorText: string }
  | { type: 'tool-output-denied'; toolCallId: string }
  | { type: 'tool-approval-request'; approvalId: string; toolCallId: string }
  | { type: 'message-metadata'; messageMetadata: UiMessageMetadata }
  | { type: 'data-state'; data: { state: Record<string, unknown>; user_state: Record<string, unknown> }; transient: true }
  | { type: 'error'; errorText: string }
  | { type: 'abort' }
  | { type: 'finish'; finishReason: 'stop' | 'tool-calls' | 'error' | 'other'; messageMetadata: UiMessageMetadata };

/** What an assistant message's metadata holds: which run wrote it, and which agent answered. */
export interface UiMessageMetadata {
  run_id?: string;
  agent_name?: string;
  /** On a failed run: the library's error code (the `error` chunk carries the message). */
  error_code?: string;
}

/**
 * Turns one run's events, in order, into UI message chunks. The assistant message's id is the
 * run id, so that a resumed run continues the same message, a replay after a reload replaces it
 * in place, and the stored history (`GET {prefix}/chat/:chat_id/messages`) names it the same.
 * Approval ids are the call ids.
 *
 * It keeps what the stream needs between events: the text being written, whether a step is
 * open, which calls were rejected.
 */
export class UiMessageMapper {
  #textId: string | undefined;
  #texts = 0;
  #stepOpen = false;
  #started = false;
  #afterTools = false;
  readonly #denied = new Set<string>();

  /** The chunks `event` stands for (often none, often several). */
  map(event: RecordedRunEvent): UiMessageChunk[] {
    switch (event.event) {
      case 'run.started':
      case 'run.resumed': {
        if (event.event === 'run.resumed') {
          for (const decision of event.data.decisions) if (!decision.approved) this.#denied.add(decision.call_id);
        }
        // A resume continues the same message: one start per message, for a replay too.
        if (this.#started) return [];
        this.#started = true;
        return [{ type: 'start', messageId: event.data.run_id, messageMetadata: { run_id: event.data.run_id, agent_name: event.data.agent_name } }];
      }
      case 'text.delta': {
        const chunks = this.#openStep();
        if (this.#textId === undefined) {
          this.#textId = `text-${++this.#texts}`;
          chunks.push({ type: 'text-start', id: this.#textId });
        }
        chunks.push({ type: 'text-delta', id: this.#textId, delta: event.data.delta });
        return chunks;
      }
      case 'tool.called': {
        const chunks = [...this.#closeText(), ...this.#openStep()];
        if (event.data.call_id === null) return chunks;
        chunks.push({
          type: 'tool-input-available',
          toolCallId: event.data.call_id,
          toolName: event.data.name,
          input: parseArguments(event.data.arguments),
        });
        return chunks;
      }
      case 'tool.output': {
        if (event.data.call_id === null) return [];
        // An output belongs to its call's step (after a resume, a step of an earlier stretch):
        // the model's next output starts a new step.
        const callId = event.data.call_id;
        this.#afterTools = true;
        if (this.#denied.has(callId)) return [{ type: 'tool-output-denied', toolCallId: callId }];
        if (isToolFailure(event.data.output)) return [{ type: 'tool-output-error', toolCallId: callId, errorText: event.data.output }];
        return [{ type: 'tool-output-available', toolCallId: callId, output: parseOutput(event.data.output) }];
      }
      case 'agent.updated':
        return [{ type: 'message-metadata', messageMetadata: { agent_name: event.data.agent_name } }];
      case 'state.updated':
        // Reaches useChat's onData only: the state is no part of the message.
        return [{ type: 'data-state', data: event.data, transient: true }];
      case 'run.awaiting_approval':
        return [
          ...this.#closeStep(),
          ...event.data.approvals.map((approval) => ({
            type: 'tool-approval-request' as const,
            approvalId: approval.call_id,
            toolCallId: approval.call_id,
          })),
          { type: 'finish', finishReason: 'tool-calls', messageMetadata: { agent_name: event.data.agent_name } },
        ];
      case 'run.completed':
        return [...this.#closeStep(), { type: 'finish', finishReason: 'stop', messageMetadata: { agent_name: event.data.agent_name } }];
      case 'run.failed':
        return [
          ...this.#closeStep(),
          { type: 'message-metadata', messageMetadata: { error_code: event.data.error.code } },
          { type: 'error', errorText: `${event.data.error.message} (${event.data.error.code})` },
        ];
      case 'run.cancelled':
        return [...this.#closeStep(), { type: 'abort' }];
    }
  }

  /** A step begins with the model's first output, and again after tool outputs. */
  #openStep(): UiMessageChunk[] {
    if (this.#stepOpen && !this.#afterTools) return [];
    const chunks = this.#stepOpen ? this.#closeStep() : [];
    this.#stepOpen = true;
    this.#afterTools = false;
    chunks.push({ type: 'start-step' });
    return chunks;
  }

  #closeText(): UiMessageChunk[] {
    if (this.#textId === undefined) return [];
    const id = this.#textId;
    this.#textId = undefined;
    return [{ type: 'text-end', id }];
  }

  #closeStep(): UiMessageChunk[] {
    const chunks = this.#closeText();
    if (this.#stepOpen) chunks.push({ type: 'finish-step' });
    this.#stepOpen = false;
    this.#afterTools = false;
    return chunks;
  }
}

/** The arguments a model gave a tool, as the JSON they are (or the text, if they are not JSON). */
export function parseArguments(text: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A tool's output as the library recorded it (JSON text for structured outputs). */
function parseOutput(text: string): unknown {
  try {
    const parsed = JSON.parse(text) as unknown;
    // Text-only outputs as the SDK wraps them are shown as their text.
    if (parsed && typeof parsed === 'object' && (parsed as { type?: unknown }).type === 'text') {
      return (parsed as { text?: unknown }).text ?? parsed;
    }
    return parsed;
  } catch {
    return text;
  }
}
