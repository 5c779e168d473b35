import { protocol, type AgentInputItem } from '@openai/agents';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { idSchema, parseRequest } from '../http/validation.js';
import type { ApprovalDecision } from '../runs/run-control.js';

/**
 * The body `useChat`'s `DefaultChatTransport` sends to `POST {prefix}/chat`, and what the
 * library takes from it. Only the newest message counts: the stored history is the truth, so a
 * client can neither duplicate turns nor write assistant, tool or system messages into a chat by
 * editing what it sends. Extra top-level fields (the transport's `body` option) are allowed and
 * ignored; the messages are only checked as far as the library reads them.
 */

const MAX_MESSAGES = 10_000;
const MAX_PARTS = 1_000;

const part = z.looseObject({ type: z.string().min(1).max(200) });
const message = z.looseObject({
  id: z.string().max(1_000).optional(),
  role: z.enum(['system', 'user', 'assistant']),
  parts: z.array(part).max(MAX_PARTS),
});

export const chatRequestBodySchema = z.looseObject({
  id: idSchema,
  messages: z.array(message).min(1).max(MAX_MESSAGES),
  trigger: z.enum(['submit-message', 'regenerate-message']),
  messageId: z.string().max(1_000).optional(),
});

/** What a `POST {prefix}/chat` asks for. */
export type ChatRequest =
  | { chatId: string; kind: 'message'; input: AgentInputItem[] }
  | { chatId: string; kind: 'regenerate' }
  | { chatId: string; kind: 'approvals'; decisions: ApprovalDecision[] };

/** A text part, as the library reads it. */
const textPart = z.looseObject({ type: z.literal('text'), text: z.string().max(1_000_000) });
/** A file part: a data: or http(s) URL. */
const filePart = z.looseObject({
  type: z.literal('file'),
  mediaType: z.string().min(1).max(255),
  url: z.string().min(1).max(20_000_000),
  filename: z.string().max(1_000).optional(),
});
/** A tool part the client answered: `tool-<name>` or `dynamic-tool`, state `approval-responded`. */
const answeredToolPart = z.looseObject({
  type: z.string().regex(/^(tool-.+|dynamic-tool)$/),
  state: z.literal('approval-responded'),
  approval: z.looseObject({ id: z.string().min(1).max(255), approved: z.boolean(), reason: z.string().max(10_000).optional() }),
});

export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = parseRequest(chatRequestBodySchema, body ?? {}, 'body');
  const chatId = parsed.id;
  if (parsed.trigger === 'regenerate-message') return { chatId, kind: 'regenerate' };
  const last = parsed.messages.at(-1)!;
  const index = parsed.messages.length - 1;
  if (last.role === 'assistant') {
    // The client answered tool approvals in the assistant message that asked for them.
    const decisions: ApprovalDecision[] = [];
    for (const candidate of last.parts) {
      const answered = answeredToolPart.safeParse(candidate);
      if (!answered.success) continue;
      const { id, approved, reason } = answered.data.approval;
      decisions.push({ call_id: id, approved, ...(reason && !approved ? { message: reason } : {}) });
    }
    if (decisions.length === 0) {
      throw invalid(index, 'The newest message is an assistant message without any answered tool approval; send a user message.');
    }
    return { chatId, kind: 'approvals', decisions };
  }
  if (last.role !== 'user') throw invalid(index, 'The newest message must be a user message.');
  const content: Record<string, unknown>[] = [];
  for (const candidate of last.parts) {
    const text = textPart.safeParse(candidate);
    if (text.success) {
      if (text.data.text) content.push({ type: 'input_text', text: text.data.text });
      continue;
    }
    const file = filePart.safeParse(candidate);
    if (file.success) {
      const { mediaType, url, filename } = file.data;
      content.push(
        mediaType.startsWith('image/')
          ? { type: 'input_image', image: url }
          : { type: 'input_file', file: url, ...(filename ? { filename } : {}) },
      );
    }
    // Other parts (reasoning, data, sources...) are not input the model takes.
  }
  if (content.length === 0) throw invalid(index, 'The newest user message has no text or file to send.');
  // Text alone is stored as a plain string, as a /run input string is.
  const only = content.length === 1 && content[0]!.type === 'input_text' ? content[0]!.text : undefined;
  const item = { role: 'user', content: only ?? content };
  if (!protocol.ModelItem.safeParse(item).success) throw invalid(index, 'The newest user message is not a message the model can take.');
  return { chatId, kind: 'message', input: [item as AgentInputItem] };
}

function invalid(index: number, message: string) {
  return new InvalidRequestError(`Invalid body: messages.${index}: ${message}`, [
    { path: ['messages', index], code: 'custom', message },
  ]);
}
