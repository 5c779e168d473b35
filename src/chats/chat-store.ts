import type { AgentInputItem } from '@openai/agents';
import type { Request } from 'express';
import type { AnyKysely } from '../db/schema.js';
import type { PendingApproval } from '../runs/run-payloads.js';

/** A conversation owned by one user. Its id is the session id the agents run on. */
export interface Chat {
  id: string;
  userId: string;
  title: string | null;
  /** Free-form JSON object the host attaches to the chat. */
  metadata: Record<string, unknown>;
  /** How many items the conversation holds. */
  itemCount: number;
  /** The agent that took the last turn, if any. */
  lastAgentName: string | null;
  /** Token totals of every run on this chat, including runs whose items were cleared since. */
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  /** The run that holds the chat now, if any: what `GET /chats/:id/stream` follows. */
  activeRunId: string | null;
  /** The run waiting for tool approvals on this chat, with the calls that wait; `null` if none. */
  pendingApproval: { runId: string; prefix: string | null; approvals: PendingApproval[] } | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One stored item with what the store knows about it. */
export interface StoredItem {
  /** Orders the conversation; grows with every write, with gaps where items were removed. */
  position: number;
  item: AgentInputItem;
  /** The agent that produced the item; `null` for items written without one. */
  agentName: string | null;
  runId: string | null;
  createdAt: Date;
}

/** One agent run, as recorded by the agent router. */
export interface RunRecord {
  id: string;
  chatId: string;
  status: 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
  /** The agent the run was started on, and the one that answered (after any handoff). */
  agentName: string;
  lastAgentName: string | null;
  streamed: boolean;
  /** Started with `"background": true`. */
  background: boolean;
  /** The prefix of the agent router it started on (where its approvals are decided). */
  prefix: string | null;
  /** A cancel was requested while it ran. */
  cancelRequested: boolean;
  /** While it waits (`awaiting_approval`): the calls that wait for a decision. */
  approvals: PendingApproval[] | null;
  /** The caller's input, kept even when the run failed and the conversation stored nothing. */
  input: string | AgentInputItem[];
  finalOutput: unknown;
  error: { code: string; message: string } | null;
  itemCount: number;
  usage: { requests: number; inputTokens: number; outputTokens: number; totalTokens: number };
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
}

/** A page of results and the opaque cursor of the next page (`null` on the last one). */
export interface Page<T> {
  entries: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  /** How many entries to return, at most. */
  limit: number;
  /** A `nextCursor` from the previous page. Malformed cursors throw `InvalidRequestError`. */
  cursor?: string | undefined;
}

/** Which part of a conversation `readConversation` reads. */
export interface ConversationPageRequest {
  /** How many items to return, at most: the newest ones (before `before`, when given). */
  limit: number;
  /** An `olderCursor` from the previous page. Malformed cursors throw `InvalidRequestError`. */
  before?: string | undefined;
}

/** A stretch of a conversation, in chronological order, and the cursor of the stretch before it. */
export interface ConversationPage {
  entries: StoredItem[];
  /** Pass as `before` to read the items just older than these; `null` when there are none. */
  olderCursor: string | null;
}

export interface CreateChatInput {
  /** Use this id instead of generating one (the agent router's `autoCreateChats`). */
  id?: string;
  title?: string | null;
  metadata?: Record<string, unknown>;
  /** The chat's session state to start with. Defaults to `{}`. */
  state?: Record<string, unknown>;
}

export interface UpdateChatInput {
  title?: string | null;
  /** Replaces the whole metadata object. */
  metadata?: Record<string, unknown>;
}

/**
 * Where chats live, for the chat router: its endpoints reach chats only through this interface,
 * so a host can wrap or replace the default `PostgresChatStore` (to add caching or auditing, say)
 * and pass it as the chat router's `createStore` option. The agent router does not go through
 * it: leases, run records and whole-turn writes are single statements on the library's tables,
 * so a replacement store must keep its chats in those tables for agents to run on them.
 *
 * The contract, which every implementation honours and the contract test suite checks:
 *
 * - Every method takes the owner's user id and never reads, changes or reveals another owner's
 *   chats. A chat that exists but belongs to someone else is answered exactly as a missing one:
 *   `undefined` (or `false`), never an error that tells the two apart.
 * - `createChat` generates the id (a UUID) unless `input.id` is given. With an id that another
 *   owner already uses it returns `undefined`; with an id the same owner already uses it returns
 *   that chat unchanged.
 * - `listChats` returns the owner's chats most recently updated first (ties broken by id), `limit`
 *   at a time. Paging with `nextCursor` never returns a chat twice and never skips one that was
 *   not updated or deleted meanwhile: a chat updated between two pages moves to the front (it is
 *   not repeated further down), a deleted one simply disappears.
 * - `updateChat` changes only the fields given, and marks the chat updated.
 * - `clearConversation` removes every item of the conversation and keeps the chat (its title,
 *   metadata, token totals and runs).
 * - `deleteChat` removes the chat with its items and runs.
 * - `readConversation` reads the conversation from its end: the newest `limit` items (or, with
 *   `before`, the newest `limit` items older than that page), returned in chronological order,
 *   reading only those rows. Paging back with `olderCursor` reaches the first item without
 *   repeating or skipping one that was not removed meanwhile; items stored meanwhile are newer
 *   than the first page and never show up on older ones. `olderCursor` is `null` exactly when no
 *   older item is left (a last page is never empty, unless the conversation is).
 * - `listItems` pages through the stored items oldest first.
 * - `listRuns` returns the chat's runs newest first; `getRun` one of them (`undefined` for a run of
 *   another chat, as for someone else's chat).
 */
export interface ChatStore {
  createChat(userId: string, input?: CreateChatInput): Promise<Chat | undefined>;
  getChat(userId: string, chatId: string): Promise<Chat | undefined>;
  listChats(userId: string, page: PageRequest): Promise<Page<Chat>>;
  updateChat(userId: string, chatId: string, input: UpdateChatInput): Promise<Chat | undefined>;
  clearConversation(userId: string, chatId: string): Promise<Chat | undefined>;
  deleteChat(userId: string, chatId: string): Promise<boolean>;
  readConversation(userId: string, chatId: string, page: ConversationPageRequest): Promise<ConversationPage | undefined>;
  listItems(userId: string, chatId: string, page: PageRequest): Promise<Page<StoredItem> | undefined>;
  listRuns(userId: string, chatId: string, page: PageRequest): Promise<Page<RunRecord> | undefined>;
  getRun(userId: string, chatId: string, runId: string): Promise<RunRecord | undefined>;
}

/**
 * Builds the `ChatStore` a request works with, for the routers' `createStore` option; the
 * default is a `PostgresChatStore` on `db`.
 */
export type CreateStore = (db: AnyKysely, req: Request) => ChatStore;
