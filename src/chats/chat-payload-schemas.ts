import { z } from 'zod';
import { agentInputItemSchema, pendingApprovalSchema, runUsageSchema } from '../runs/run-payload-schemas.js';

/**
 * The chat router's answers as zod schemas, for the OpenAPI document. The plain types in
 * chat-payloads.ts stay the public ones; a type test (test/openapi/payload-schemas.test.ts) keeps
 * each schema's `z.infer` equal to its type. Nothing validates answers with these at run time.
 */

/** A time in an answer (the other routers' answers use it too). */
export const timestamp = z.string().describe('ISO 8601, e.g. 2026-11-21T10:05:12.345Z.');
/** The cursor of a keyset-paged list. */
export const nextCursor = z.string().nullable().describe('Pass back as `?cursor=` for the next page; `null` on the last one.');

export const chatBodySchema = z.strictObject({
  chat_id: z.string(),
  user_id: z.string(),
  title: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  item_count: z.number().int().nonnegative(),
  last_agent_name: z.string().nullable(),
  usage: z.strictObject({ input_tokens: z.number().int().nonnegative(), output_tokens: z.number().int().nonnegative(), total_tokens: z.number().int().nonnegative() }),
  active_run_id: z.string().nullable().describe('The run that holds the chat now (follow it with `GET /chats/{id}/stream`), or `null`.'),
  pending_approval: z
    .strictObject({
      run_id: z.string(),
      prefix: z.string().nullable().describe('The prefix of the agent router that takes the decisions (`POST {prefix}/runs/{run_id}/approvals`).'),
      approvals: z.array(pendingApprovalSchema),
    })
    .nullable()
    .describe('The run waiting for tool approvals on this chat, where to decide, and the calls that wait; or `null`.'),
  created_at: timestamp,
  updated_at: timestamp,
});

export const conversationMessageSchema = z.strictObject({
  role: z.enum(['user', 'assistant', 'tool']),
  content: z.string(),
  agent_name: z.string().nullable(),
  created_at: timestamp,
});

export const chatWithConversationBodySchema = z.strictObject({
  ...chatBodySchema.shape,
  conversation: z.array(conversationMessageSchema),
  older_cursor: z.string().nullable().describe('Pass back as `?before=` for the items before this page; `null` on the first one.'),
});

export const chatListBodySchema = z.strictObject({ chats: z.array(chatBodySchema), next_cursor: nextCursor });

export const itemsPageBodySchema = z.strictObject({ items: z.array(agentInputItemSchema), next_cursor: nextCursor });

export const runRecordBodySchema = z.strictObject({
  run_id: z.string(),
  chat_id: z.string(),
  status: z.enum(['running', 'awaiting_approval', 'completed', 'failed', 'cancelled']),
  agent_name: z.string(),
  last_agent_name: z.string().nullable(),
  streamed: z.boolean(),
  prefix: z.string().nullable().describe('The prefix of the agent router it started on (where its approvals are decided).'),
  background: z.boolean(),
  cancel_requested: z.boolean().describe('A cancel was requested while it ran.'),
  approvals: z.array(pendingApprovalSchema).nullable().describe('While it waits for approval: the calls that wait; otherwise `null`.'),
  // A regeneration's record says so, rather than holding text a user could have typed.
  input: z.union([z.string(), z.array(agentInputItemSchema), z.strictObject({ regenerate: z.literal(true) })]),
  final_output: z.unknown(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  item_count: z.number().int().nonnegative(),
  usage: runUsageSchema,
  started_at: timestamp,
  finished_at: timestamp.nullable(),
  duration_ms: z.number().int().nonnegative().nullable(),
});

export const runsPageBodySchema = z.strictObject({ runs: z.array(runRecordBodySchema), next_cursor: nextCursor });

export const cancelRunBodySchema = z.strictObject({
  run_id: z.string(),
  status: z.enum(['cancelled', 'running']).describe('`cancelled` once it stopped (200); `running` while it is still stopping (202).'),
});
