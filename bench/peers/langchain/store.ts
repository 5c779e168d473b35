import pg from 'pg';
import { PostgresChatMessageHistory } from '@langchain/community/stores/message/postgres';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { sampleText, type PeerStore } from '../peer-store.js';

/**
 * LangChain's PostgresChatMessageHistory, used as its documentation shows. It has no "latest N"
 * read: getMessages() returns the whole session, and the caller slices. As shipped it creates no
 * index on session_id; `indexed` adds one (which LangChain does not do) to show what that changes.
 */
export async function createLangChainStore(poolConfig: pg.PoolConfig, indexed: boolean): Promise<PeerStore> {
  const pool = new pg.Pool({ ...poolConfig, max: 1 });
  const tableName = indexed ? 'langchain_chat_histories_indexed' : 'langchain_chat_histories';
  const histories = new Map<string, PostgresChatMessageHistory>();
  // One history object per session, reused, so that its one-time CREATE TABLE check is not timed.
  const history = (sessionId: string) => {
    let found = histories.get(sessionId);
    if (!found) histories.set(sessionId, (found = new PostgresChatMessageHistory({ pool, sessionId, tableName })));
    return found;
  };
  await history('setup').getMessages();
  if (indexed) await pool.query(`CREATE INDEX IF NOT EXISTS ${tableName}_session_idx ON ${tableName} (session_id, id)`);
  return {
    name: indexed ? 'LangChain + index' : 'LangChain',
    async seed(sessionId, count) {
      await pool.query(
        `INSERT INTO ${tableName} (session_id, message)
         SELECT $1, CASE WHEN g % 2 = 1
           THEN jsonb_build_object('type', 'human', 'content', $2 || g, 'additional_kwargs', '{}'::jsonb, 'response_metadata', '{}'::jsonb)
           ELSE jsonb_build_object('type', 'ai', 'content', $2 || g, 'tool_calls', '[]'::jsonb, 'additional_kwargs', '{}'::jsonb,
                                   'response_metadata', '{}'::jsonb, 'invalid_tool_calls', '[]'::jsonb) END
         FROM generate_series(1, $3::int) AS g`,
        [sessionId, sampleText(0), count],
      );
      await pool.query(`ANALYZE ${tableName}`);
    },
    async readLast50(sessionId) {
      return (await history(sessionId).getMessages()).slice(-50);
    },
    async turn(sessionId, i) {
      const h = history(sessionId);
      (await h.getMessages()).slice(-50);
      await h.addMessages([new HumanMessage(sampleText(i)), new AIMessage(sampleText(i + 1))]);
    },
    close: () => pool.end(),
  };
}
