import type { AgentInputItem } from '@openai/agents';
import type { RunInput, StoredItem } from '../chats/chat-store.js';
import type { PendingApproval } from '../runs/run-payloads.js';
import { isToolFailure } from '../runs/tool-failures.js';
import { parseArguments, type UiMessageMetadata } from './ui-message-chunks.js';

/** A part of a `UIMessage`, as the library builds them from the stored history. */
export type UiMessagePart =
  | { type: 'step-start' }
  | { type: 'text'; text: string; state: 'done' }
  | { type: 'reasoning'; text: string; state: 'done' }
  | { type: 'file'; mediaType: string; url: string; filename?: string }
  | {
      /** `tool-<tool name>`. */
      type: `tool-${string}`;
      toolCallId: string;
      state: 'input-available' | 'approval-requested' | 'output-available' | 'output-error';
      input: unknown;
      output?: unknown;
      errorText?: string;
      approval?: { id: string };
    };

/** A chat message as the AI SDK's `useChat` holds it (`UIMessage`). */
export interface UiMessage {
  id: string;
  role: 'user' | 'assistant';
  metadata?: UiMessageMetadata;
  parts: UiMessagePart[];
}

/** `GET {prefix}/chat/:chat_id/messages`: the stored history, for `useChat({ messages })`. */
export interface UiMessagesBody {
  messages: UiMessage[];
}

/**
 * The stored history as `UIMessage[]`, for `useChat({ messages })`: a pure mapping. Each user
 * message is one message; what each run answered is one assistant message whose id is the run
 * id (the id its live stream gave it), with a `step-start` before each model response, text and
 * reasoning parts, and a `tool-<name>` part per tool call with its output. A call waiting for
 * approval is in the `approval-requested` state (its approval id is the call id). Handoffs,
 * system messages and items other than messages, reasoning and function calls are left out.
 * History that starts mid-turn (a page of a long chat) is dropped up to its first user message.
 *
 * A turn is stored when its run ends, so while the chat's `active` run answers a new message,
 * that message is only in the run record: it ends the history as user messages (ids
 * `user-<run id>-<index>`), so that a client resuming the run after a reload shows the question
 * above the answer it replays. A run resumed after approvals stored its question when it stopped
 * to wait, and a regeneration answers a stored one: neither adds anything.
 */
export function toUiMessages(
  items: readonly StoredItem[],
  pending: { approvals: PendingApproval[] } | null,
  active?: { runId: string; input: RunInput } | null,
): UiMessage[] {
  const waiting = new Set(pending?.approvals.map((approval) => approval.call_id));
  const messages: UiMessage[] = [];
  let answer: UiMessage | undefined;
  let tools = new Map<string, Extract<UiMessagePart, { toolCallId: string }>>();
  let afterTools = true;
  const start = items.findIndex((stored) => isUser(stored.item));
  for (const stored of start < 0 ? [] : items.slice(start)) {
    const item = stored.item as AgentInputItem & Record<string, unknown>;
    if (isUser(item)) {
      answer = undefined;
      messages.push({ id: `user-${stored.position}`, role: 'user', parts: userParts(item) });
      continue;
    }
    if ('role' in item && item.role !== 'assistant') continue;
    const runId = stored.runId ?? `message-${stored.position}`;
    if (!answer || answer.id !== runId) {
      answer = { id: runId, role: 'assistant', metadata: { run_id: runId, agent_name: stored.agentName ?? undefined }, parts: [] };
      messages.push(answer);
      tools = new Map();
      afterTools = true;
    }
    if (stored.agentName) answer.metadata = { ...answer.metadata, agent_name: stored.agentName };
    const step = () => {
      if (afterTools) answer!.parts.push({ type: 'step-start' });
      afterTools = false;
    };
    if ('role' in item) {
      step();
      const text = textOf(item.content);
      if (text) answer.parts.push({ type: 'text', text, state: 'done' });
    } else if (item.type === 'reasoning') {
      step();
      const text = ((item.content as { text?: string }[] | undefined) ?? []).map((part) => part.text ?? '').join('');
      if (text) answer.parts.push({ type: 'reasoning', text, state: 'done' });
    } else if (item.type === 'function_call' && typeof item.name === 'string' && !item.name.startsWith('transfer_to_')) {
      step();
      const callId = String(item.callId);
      const part: Extract<UiMessagePart, { toolCallId: string }> = waiting.has(callId)
        ? { type: `tool-${item.name}`, toolCallId: callId, state: 'approval-requested', input: parseArguments(String(item.arguments)), approval: { id: callId } }
        : { type: `tool-${item.name}`, toolCallId: callId, state: 'input-available', input: parseArguments(String(item.arguments)) };
      tools.set(callId, part);
      answer.parts.push(part);
    } else if (item.type === 'function_call_result') {
      const part = tools.get(String(item.callId));
      if (!part) continue;
      afterTools = true;
      const output = outputOf(item.output);
      if (typeof output === 'string' && isToolFailure(output)) Object.assign(part, { state: 'output-error', errorText: output });
      else Object.assign(part, { state: 'output-available', output });
    }
  }
  if (active && !items.some((stored) => stored.runId === active.runId)) messages.push(...askedBy(active.runId, active.input));
  return messages;
}

/** The user messages a run was given, as the stored history will show them once it ends. */
function askedBy(runId: string, input: RunInput): UiMessage[] {
  if (!Array.isArray(input) && typeof input === 'object') return [];
  const asked: AgentInputItem[] = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
  return asked.filter(isUser).map((item, index) => ({ id: `user-${runId}-${index}`, role: 'user', parts: userParts(item) }));
}

function isUser(item: AgentInputItem): boolean {
  return 'role' in item && item.role === 'user';
}

function userParts(item: AgentInputItem): UiMessagePart[] {
  const content = (item as { content: unknown }).content;
  if (typeof content === 'string') return [{ type: 'text', text: content, state: 'done' }];
  const parts: UiMessagePart[] = [];
  for (const part of (content as Record<string, unknown>[]) ?? []) {
    if (part.type === 'input_text' && typeof part.text === 'string') parts.push({ type: 'text', text: part.text, state: 'done' });
    else if (part.type === 'input_image' && typeof part.image === 'string') parts.push({ type: 'file', mediaType: 'image/*', url: part.image });
    else if (part.type === 'input_file' && typeof part.file === 'string') {
      parts.push({ type: 'file', mediaType: 'application/octet-stream', url: part.file, ...(typeof part.filename === 'string' ? { filename: part.filename } : {}) });
    }
  }
  return parts;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: unknown; refusal?: unknown }) => (typeof part.text === 'string' ? part.text : typeof part.refusal === 'string' ? part.refusal : '')).join('');
}

function outputOf(output: unknown): unknown {
  if (typeof output === 'string') return output;
  const part = output as { type?: unknown; text?: unknown } | undefined;
  if (part?.type === 'text' && typeof part.text === 'string') return part.text;
  return output ?? null;
}
