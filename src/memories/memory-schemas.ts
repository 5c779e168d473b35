import { z } from 'zod';
import { idSchema, limitParam } from '../http/validation.js';

/** The request schemas of the memory router; each refuses unknown fields. */

/** `GET /memories?limit=&cursor=` (limit 1..100, default 20) */
export const listMemoriesQuerySchema = z.strictObject({
  limit: limitParam(100).default(20),
  cursor: z.string().min(1).max(1024).optional(),
});

/** `:memory_id` in `DELETE /memories/:memory_id`. */
export const memoryIdParamsSchema = z.strictObject({ memory_id: idSchema });

/** A memory as the memory router answers it. */
export interface MemoryBody {
  memory_id: string;
  content: string;
  metadata: Record<string, unknown>;
  importance: number;
  /** The agent, chat and run that remembered it, or `null`. */
  agent_name: string | null;
  chat_id: string | null;
  run_id: string | null;
  /** ISO 8601 timestamps; `last_used_at` is `null` until a search returns the memory. */
  created_at: string;
  last_used_at: string | null;
}

/** `GET /memories` */
export interface MemoryListBody {
  memories: MemoryBody[];
  next_cursor: string | null;
}

/** `DELETE /memories` */
export interface MemoriesDeletedBody {
  deleted: number;
}
