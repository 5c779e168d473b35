import { z } from 'zod';
import { nextCursor, timestamp } from '../chats/chat-payload-schemas.js';

/**
 * The memory router's answers as zod schemas, for the OpenAPI document. The plain types in
 * memory-schemas.ts stay the public ones; a type test (test/openapi/payload-schemas.test.ts)
 * keeps each schema's `z.infer` equal to its type.
 */

export const memoryBodySchema = z.strictObject({
  memory_id: z.string(),
  content: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  importance: z.number().min(0).max(1).describe('From 0 (trivia) to 1 (never forget).'),
  agent_name: z.string().nullable().describe('The agent that remembered it; `null` (as for the chat and the run) when it was added outside a run.'),
  chat_id: z.string().nullable(),
  run_id: z.string().nullable(),
  created_at: timestamp,
  last_used_at: timestamp.nullable().describe('When a search last returned it; `null` until one has.'),
});

export const memoryListBodySchema = z.strictObject({ memories: z.array(memoryBodySchema), next_cursor: nextCursor });

export const memoriesDeletedBodySchema = z.strictObject({ deleted: z.number().int().nonnegative().describe('How many memories were deleted.') });
