import type { AgentInputItem } from '@openai/agents';
import type { PendingApproval } from '../runs/run-payloads.js';
import type { ConversationMessage } from './conversation-view.js';

/**
 * The chat router's response bodies, as plain types a front end can `import type`. The request
 * bodies are `CreateChatBody` and `UpdateChatBody` (chat-schemas.ts).
 */

/** A chat as every chat endpoint answers it. */
export interface ChatBody {
  chat_id: string;
  user_id: string;
  title: string | null;
  metadata: Record<string, unknown>;
  item_count: number;
  last_agent_name: string | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number };
  /** The run that holds the chat now (follow it with `GET /chats/:id/stream`), or `null`. */
  active_run_id: string | null;
  /**
   * The run waiting for tool approvals on this chat, the prefix of the agent router to decide on
   * (`POST {prefix}/runs/:run_id/approvals`), and the calls that wait; or `null`.
   */
  pending_approval: { run_id: string; prefix: string | null; approvals: PendingApproval[] } | null;
  /** ISO 8601 timestamps. */
  created_at: string;
  updated_at: string;
}

/** `GET /chats/:id`: the chat with a page of its readable conversation. */
export interface ChatWithConversationBody extends ChatBody {
  conversation: ConversationMessage[];
  /** Pass back as `?before=` for the items before this page; `null` on the first one. */
  older_cursor: string | null;
}

/** `GET /chats` */
export interface ChatListBody {
  chats: ChatBody[];
  next_cursor: string | null;
}

/** `GET /chats/:id/items` */
export interface ItemsPageBody {
  items: AgentInputItem[];
  next_cursor: string | null;
}

/** A run record as `GET /chats/:id/runs` answers it. */
export interface RunRecordBody {
  run_id: string;
  chat_id: string;
  status: 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
  agent_name: string;
  last_agent_name: string | null;
  streamed: boolean;
  /** The prefix of the agent router it started on (where its approvals are decided). */
  prefix: string | null;
  background: boolean;
  /** A cancel was requested while it ran. */
  cancel_requested: boolean;
  /** While it waits for approval: the calls that wait; otherwise `null`. */
  approvals: PendingApproval[] | null;
  input: string | AgentInputItem[];
  final_output: unknown;
  error: { code: string; message: string } | null;
  item_count: number;
  usage: { requests: number; input_tokens: number; output_tokens: number; total_tokens: number };
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

/** `POST /chats/:id/runs/:run_id/cancel`: the run once it stopped (200), or while it stops (202). */
export interface CancelRunBody {
  run_id: string;
  status: 'cancelled' | 'running';
}

/** `GET /chats/:id/runs` */
export interface RunsPageBody {
  runs: RunRecordBody[];
  next_cursor: string | null;
}
