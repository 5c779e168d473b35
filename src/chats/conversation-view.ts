import type { AgentInputItem } from '@openai/agents';
import type { StoredItem } from './chat-store.js';

/** One line of the readable conversation that `GET /chats/:id` returns. */
export interface ConversationMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  agent_name: string | null;
  created_at: string;
}

/** Tool arguments and outputs longer than this are cut in the readable view (never in storage). */
const MAX_TOOL_TEXT = 1000;

/**
 * The conversation as a person reads it: messages with their text parts joined, tool calls and
 * their results summarised as role "tool". System and developer messages and reasoning are not
 * part of it; `GET /chats/:id/items` returns every stored item as it is.
 */
export function toConversation(items: StoredItem[]): ConversationMessage[] {
  const messages: ConversationMessage[] = [];
  for (const stored of items) {
    const line = describe(stored.item);
    if (line) {
      messages.push({
        role: line.role,
        content: line.content,
        agent_name: stored.agentName,
        created_at: stored.createdAt.toISOString(),
      });
    }
  }
  return messages;
}

function describe(item: AgentInputItem): { role: ConversationMessage['role']; content: string } | undefined {
  if ('role' in item) {
    if (item.role !== 'user' && item.role !== 'assistant') return undefined;
    return { role: item.role, content: textOf(item.content) };
  }
  switch (item.type) {
    case 'function_call': {
      const agent = /^transfer_to_(.+)$/.exec(item.name)?.[1];
      if (agent) return { role: 'tool', content: `Handed off to ${agent.replace(/_/g, ' ')}` };
      return { role: 'tool', content: `Called ${item.name}(${cut(item.arguments)})` };
    }
    case 'function_call_result':
      if (item.name.startsWith('transfer_to_')) return undefined;
      return { role: 'tool', content: `${item.name} returned: ${cut(outputText(item.output))}` };
    case 'hosted_tool_call':
      return {
        role: 'tool',
        content: `Used ${item.name}${item.output ? `: ${cut(item.output)}` : ''}`,
      };
    case 'reasoning':
    case 'compaction':
    case 'unknown':
      return undefined;
    default:
      // Computer, shell, patch and other tool items: name the kind of call. (Items written
      // through PostgresSession directly may be anything: an item without a type is skipped.)
      return typeof item.type === 'string' ? { role: 'tool', content: item.type.replace(/_/g, ' ') } : undefined;
  }
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: string; refusal?: string; transcript?: string }) => {
      if (typeof part.text === 'string') return part.text;
      if (typeof part.refusal === 'string') return part.refusal;
      if (typeof part.transcript === 'string') return part.transcript;
      if (part.type === 'input_image' || part.type === 'image') return '[image]';
      if (part.type === 'input_file') return '[file]';
      if (part.type === 'audio') return '[audio]';
      return '';
    })
    .join('');
}

function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((part) => outputText(part)).join('');
  if (output && typeof output === 'object') {
    const part = output as { type?: string; text?: string };
    if (typeof part.text === 'string') return part.text;
    if (part.type === 'image' || part.type === 'input_image') return '[image]';
    if (part.type === 'file' || part.type === 'input_file') return '[file]';
  }
  return JSON.stringify(output) ?? '';
}

function cut(text: string): string {
  return text.length > MAX_TOOL_TEXT ? `${text.slice(0, MAX_TOOL_TEXT)}…` : text;
}
