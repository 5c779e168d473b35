// The plain JSON endpoints the page uses besides useChat's own: the agents, the chat list, a
// chat's stored history, and cancelling a run. Every request says who the user is in the
// `x-user-id` header (demo only: a real app's requests carry a session cookie or a token).
import type { UIMessage } from 'ai';

export interface AgentInfo {
  name: string;
  prefix: string;
  description: string;
}

/** A chat as `GET /chats` lists it (the fields this page shows). */
export interface ChatSummary {
  chat_id: string;
  title: string | null;
  item_count: number;
  last_agent_name: string | null;
}

/** What the assistant messages' metadata holds: the run that wrote it, and who answered. */
export interface AnswerMetadata {
  run_id?: string;
  agent_name?: string;
  error_code?: string;
}

export type ChatMessage = UIMessage<AnswerMetadata>;

/** A request that failed: the library's error envelope, `{ success: false, error: { code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, userId: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, { ...init, headers: { 'x-user-id': userId } });
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
    throw new ApiError(response.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

export async function listAgents(): Promise<AgentInfo[]> {
  return (await getJson<{ agents: AgentInfo[] }>('/agents', '')).agents;
}

export async function listChats(userId: string): Promise<ChatSummary[]> {
  return (await getJson<{ chats: ChatSummary[] }>('/chats?limit=50', userId)).chats;
}

/**
 * The chat's stored history as UIMessage[] (`GET {prefix}/chat/:id/messages`; any agent's
 * prefix answers for the whole chat). A chat id the server does not know yet is a new chat: it
 * is created with its first message.
 */
export async function loadMessages(prefix: string, chatId: string, userId: string): Promise<ChatMessage[]> {
  try {
    const path = `${prefix}/chat/${encodeURIComponent(chatId)}/messages`;
    return (await getJson<{ messages: ChatMessage[] }>(path, userId)).messages;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'chat_not_found') return [];
    throw error;
  }
}

/** The prefix of the agent router whose run waits for approvals on this chat, if one waits. */
export async function pendingApprovalPrefix(chatId: string, userId: string): Promise<string | undefined> {
  const chat = await getJson<{ pending_approval: { prefix: string | null } | null }>(`/chats/${encodeURIComponent(chatId)}?limit=1`, userId);
  return chat.pending_approval?.prefix ?? undefined;
}

/** Stops a run on the server: useChat's `stop()` only drops the connection, and the run would go on. */
export async function cancelRun(chatId: string, runId: string, userId: string): Promise<void> {
  await getJson(`/chats/${encodeURIComponent(chatId)}/runs/${encodeURIComponent(runId)}/cancel`, userId, { method: 'POST' });
}
