/**
 * One HTTP contender of the benchmark, in its own process (so the load generator does not share
 * its event loop). MODE=library mounts createAgentRouter; MODE=handwritten is the minimal
 * Express + pg handler a developer would write for the same reads and writes: check the chat,
 * read its history, run the agent, store the turn and bump the chat's counter.
 *
 * MODE=floor is the HTTP floor: an Express endpoint that parses the body and answers, nothing else.
 *
 * Env: DATABASE_URL, SCHEMA, MODE, HISTORY_LIMIT (library only: a number, or "null" for the whole
 * history; absent, the router's default). Prints {"port": n} when ready; on SIGTERM it exits
 * normally, so that a process started with `--cpu-prof` writes its profile.
 * Agents: `/a` answers at once; `/s` streams one delta that carries the time it was produced.
 */
import { Agent, Runner, type AgentInputItem } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelStream } from '@openai/agents/testing';
import express from 'express';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createAgentRouter } from 'express-agent-router';
import { addDurabilityRoutes } from './durability-routes.js';

const poolConfig: pg.PoolConfig = {
  connectionString: process.env.DATABASE_URL,
  options: `-c search_path=${process.env.SCHEMA}`,
  max: 40,
};
const now = () => performance.timeOrigin + performance.now();

// A fresh ScriptedModel for every model call: an instant answer, the same for both contenders.
const runner = new Runner({
  tracingDisabled: true,
  modelProvider: {
    getModel: (name) =>
      name === 'stamped'
        ? new ScriptedModel([
            modelStream(
              (async function* () {
                yield { type: 'response_started' as const };
                yield { type: 'output_text_delta' as const, delta: `t=${now()}` };
                yield {
                  type: 'response_done' as const,
                  response: {
                    id: 'r',
                    usage: { requests: 1, inputTokens: 0, outputTokens: 0, totalTokens: 0, inputTokensDetails: [], outputTokensDetails: [] },
                    output: [assistantMessage('stamped')],
                  },
                };
              })(),
            ),
          ])
        : new ScriptedModel([[assistantMessage('ok')]]),
  },
});
const instant = new Agent({ name: 'Instant', instructions: 'Answer.', model: 'instant' });
const stamped = new Agent({ name: 'Stamped', instructions: 'Answer.', model: 'stamped' });
const getUserId = (req: express.Request) => req.header('x-user-id');
const logger = { warn: () => {}, error: (message: string, details?: unknown) => console.error(message, details) };

const app = express();
// The monotonic clock V8 stamps profile samples with, in µs: the profile section keeps the samples
// taken between two readings.
app.get('/__now', (_req, res) => {
  res.json({ us: Number(process.hrtime.bigint() / 1000n) });
});
// CPU time the process used so far (process.cpuUsage(): user and system, in µs), for every mode:
// the HTTP section's CPU per /run and the scale section's idle streams.
app.get('/__cpu', (_req, res) => {
  res.json(process.cpuUsage());
});
app.get('/__rss', (_req, res) => {
  (globalThis as { gc?: () => void }).gc?.();
  res.json({ rss: process.memoryUsage().rss });
});

if (process.env.MODE === 'library') {
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool(poolConfig) }) });
  const limit = process.env.HISTORY_LIMIT;
  const historyLimit = limit === undefined ? {} : { historyLimit: limit === 'null' ? null : Number(limit) };
  app.use(createAgentRouter(instant, '/a', () => db, { getUserId, runner, logger, ...historyLimit }));
  app.use(createAgentRouter(stamped, '/s', () => db, { getUserId, runner, logger }));
  // The durability and scale sections' agents and the chat router (env HEARTBEAT_MS).
  addDurabilityRoutes(app, db, { getUserId, logger });
} else if (process.env.MODE === 'floor') {
  app.post('/a/run', express.json(), (req, res) => {
    res.json({ success: true, final_output: 'ok', session_id: (req.body as { session_id?: string }).session_id });
  });
} else {
  const pool = new pg.Pool(poolConfig);
  app.post('/a/run', express.json(), async (req, res) => {
    try {
      const { input, session_id: sessionId } = req.body as { input: string; session_id: string };
      const owned = await pool.query('SELECT 1 FROM agent_chats WHERE id = $1 AND user_id = $2', [sessionId, getUserId(req)]);
      if (owned.rowCount === 0) return void res.status(404).json({ error: 'not found' });
      const history = await pool.query('SELECT item FROM agent_items WHERE session_id = $1 ORDER BY position', [sessionId]);
      const user: AgentInputItem = { role: 'user', content: input };
      const result = await runner.run(instant, [...history.rows.map((row) => row.item as AgentInputItem), user]);
      const turn = [user, ...result.newItems.map((item) => item.rawItem)];
      await pool.query(
        `WITH chat AS (
           UPDATE agent_chats SET item_count = item_count + $2, next_position = next_position + $2, updated_at = now()
           WHERE id = $1 RETURNING next_position
         )
         INSERT INTO agent_items (session_id, position, item)
         SELECT $1, chat.next_position - $2 + new.ordinality::integer - 1, new.value
         FROM chat, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS new`,
        [sessionId, turn.length, JSON.stringify(turn)],
      );
      res.json({ success: true, final_output: result.finalOutput, session_id: sessionId });
    } catch (error) {
      console.error(error);
      res.status(500).json({ error: 'internal' });
    }
  });
}

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});
process.once('SIGTERM', () => process.exit(0));
