/**
 * The bench server's agents and routes for the durability and scale sections (library mode
 * only): streaming agents with and without recorded events, a paced agent whose deltas carry the
 * time they were produced, an agent that keeps its run open, and the chat router (follow a run,
 * page the chats) with the heartbeat interval of HEARTBEAT_MS.
 *
 *   /d  50 deltas at once, events recorded (the default)
 *   /n  the same with `recordEvents: false`
 *   /p  40 stamped deltas, one every 25 ms (a run of about a second, for followers)
 *   /r  1,000 deltas at once (a finished run with many events, to resume)
 *   /h  one delta, then the run stays open for 10 minutes (for open streams)
 */
import { Agent, Runner } from '@openai/agents';
import type express from 'express';
import type { Kysely } from 'kysely';
import { createAgentRouter, createChatRouter } from 'express-agent-router';
import { deltaModel, holdingModel } from './streaming-models.js';

export const STREAM_DELTAS = 50;
export const FOLLOWED_DELTAS = 40;
export const FOLLOWED_PACE_MS = 25;
export const RESUMED_DELTAS = 1_000;

interface Options {
  getUserId: (req: express.Request) => string | undefined;
  logger: { warn: () => void; error: (message: string, details?: unknown) => void };
}

export function addDurabilityRoutes(app: express.Express, db: Kysely<any>, { getUserId, logger }: Options): void {
  const runner = new Runner({
    tracingDisabled: true,
    modelProvider: {
      getModel: (name) => {
        if (name === 'paced') return deltaModel({ deltas: FOLLOWED_DELTAS, paceMs: FOLLOWED_PACE_MS, stamped: true });
        if (name === 'many') return deltaModel({ deltas: RESUMED_DELTAS });
        if (name === 'holding') return holdingModel(10 * 60_000);
        return deltaModel({ deltas: STREAM_DELTAS });
      },
    },
  });
  const agent = (model: string) => new Agent({ name: 'Streamer', instructions: 'Answer.', model });
  const common = { getUserId, runner, logger };
  app.use(createAgentRouter(agent('deltas'), '/d', () => db, common));
  app.use(createAgentRouter(agent('deltas'), '/n', () => db, { ...common, recordEvents: false }));
  app.use(createAgentRouter(agent('paced'), '/p', () => db, common));
  app.use(createAgentRouter(agent('many'), '/r', () => db, common));
  app.use(createAgentRouter(agent('holding'), '/h', () => db, common));
  const heartbeatMs = process.env.HEARTBEAT_MS ? Number(process.env.HEARTBEAT_MS) : undefined;
  app.use(createChatRouter(() => db, { getUserId, logger, ...(heartbeatMs ? { heartbeatMs } : {}) }));
}
