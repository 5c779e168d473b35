import { randomUUID } from 'node:crypto';
import { PostgresStore } from '@mastra/pg';
import { sampleText, type PeerStore } from '../peer-store.js';

/**
 * Mastra's PostgresStore, through the memory domain's own calls: listMessages (newest first, one
 * page of 50, no total count: what Mastra's Memory does to recall the last messages) and
 * saveMessages.
 */
export async function createMastraStore(connectionString: string, schemaName: string): Promise<PeerStore> {
  const store = new PostgresStore({ id: 'bench', connectionString, schemaName, max: 1 });
  await store.init();
  const memory = (await store.getStore('memory'))!;
  const resourceId = 'bench-user';
  const threads = new Set<string>();
  // Messages are ordered by createdAt, so each gets its own millisecond (see the report's notes).
  let clock = Date.now();
  const message = (threadId: string, role: 'user' | 'assistant', text: string) => ({
    id: randomUUID(),
    threadId,
    resourceId,
    role,
    type: 'v2' as const,
    createdAt: new Date(clock++),
    content: { format: 2 as const, parts: [{ type: 'text' as const, text }] },
  });
  const ensureThread = async (threadId: string) => {
    if (threads.has(threadId)) return;
    threads.add(threadId);
    const now = new Date();
    await memory.saveThread({ thread: { id: threadId, resourceId, title: threadId, createdAt: now, updatedAt: now, metadata: {} } });
  };
  const last50 = async (threadId: string) =>
    (
      await memory.listMessages({
        threadId,
        resourceId,
        page: 0,
        perPage: 50,
        orderBy: { field: 'createdAt', direction: 'DESC' },
        includeTotal: false,
      })
    ).messages.reverse();
  return {
    name: 'Mastra',
    async seed(threadId, count) {
      await ensureThread(threadId);
      await store.pool.query(
        `INSERT INTO "${schemaName}".mastra_messages (id, thread_id, content, role, type, "createdAt", "createdAtZ", "resourceId")
         SELECT gen_random_uuid()::text, $1,
                json_build_object('format', 2, 'parts', json_build_array(json_build_object('type', 'text', 'text', $2 || g)))::text,
                CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, 'v2',
                (now() AT TIME ZONE 'utc') - interval '1 day' + g * interval '1 ms',
                now() - interval '1 day' + g * interval '1 ms', $3
         FROM generate_series(1, $4::int) AS g`,
        [threadId, sampleText(0), resourceId, count],
      );
      await store.pool.query(`ANALYZE "${schemaName}".mastra_messages`);
    },
    readLast50: (threadId) => last50(threadId),
    async turn(threadId, i) {
      await ensureThread(threadId);
      await last50(threadId);
      await memory.saveMessages({
        messages: [message(threadId, 'user', sampleText(i)), message(threadId, 'assistant', sampleText(i + 1))],
      });
    },
    close: () => store.close(),
  };
}
