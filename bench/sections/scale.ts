import http from 'node:http';
import type { BenchDatabase } from '../database.js';
import { openSse, startRunStream, type SseStream } from '../http/sse-client.js';
import { wallClock } from '../http/streaming-models.js';
import { compare, type Settings } from '../measure.js';
import type { Report } from '../report.js';
import { createChats, headers, rss, serverCpuMs, startServer, type Server } from './http.js';

export interface ScaleSettings {
  /** Event streams held open at once on one instance. */
  streams: number;
  /** The follower instance's heartbeat interval; heartbeats are counted over three of them. */
  heartbeatMs: number;
  /** Chats of the user who pages through them. */
  chats: number;
  /** Rounds of timing the first, a middle and the last page. */
  paging: Settings;
}

const SECTION = 'scale';
const MiB = 2 ** 20;

/** Runs `work` on every item, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/** One machine's limits: many open event streams on one instance, and a user with many chats. */
export async function scaleOnOneMachine(bench: BenchDatabase, settings: ScaleSettings, report: Report): Promise<void> {
  // A runs the long runs; B holds the streams that follow them (it executes nothing itself).
  const a = await startServer('runs instance', { MODE: 'library', SCHEMA: bench.schema });
  const b = await startServer('streams instance', { MODE: 'library', SCHEMA: bench.schema, HEARTBEAT_MS: String(settings.heartbeatMs) });
  try {
    await openStreams(bench, a, b, settings, report);
  } finally {
    b.child.kill();
    a.child.kill();
  }
  const pager = await startServer('chats instance', { MODE: 'library', SCHEMA: bench.schema });
  try {
    await pagingChats(bench, pager, settings, report);
  } finally {
    pager.child.kill();
  }
}

/**
 * `streams` runs on A that stay open, each followed on B through
 * GET /chats/:id/runs/:run_id/stream: B holds that many SSE responses, fed by polling
 * PostgreSQL, with a heartbeat every `heartbeatMs` on each. Every stream must have had its
 * replayed events and at least two heartbeats over three intervals; then B's RSS is read.
 */
async function openStreams(bench: BenchDatabase, a: Server, b: Server, settings: ScaleSettings, report: Report) {
  const n = settings.streams;
  const rssBefore = (await rss(b)) / MiB;
  const chats = await createChats(bench, n);
  const started = performance.now();
  // Each run is started by a /stream that goes away at once: the run goes on (onDisconnect: "continue").
  const runs = await inParallel(chats, 20, async (chat) => {
    const { runId, stream } = await startRunStream(`${a.url}/h/stream`, chat, headers);
    stream.close();
    return { chat, runId };
  });
  const runsMs = performance.now() - started;
  const agent = new http.Agent({ maxSockets: Infinity, keepAlive: false });
  const followers = runs.map(() => ({ events: 0, heartbeats: [] as number[], ended: false }));
  const streams: SseStream[] = await inParallel(runs.map((run, index) => ({ ...run, follower: followers[index]! })), 50, async ({ chat, runId, follower }) => {
    const stream = await openSse(`${b.url}/chats/${chat}/runs/${runId}/stream`, { headers, agent }, {
      onEvent: () => void follower.events++,
      onComment: (_text, at) => void follower.heartbeats.push(at),
    });
    if (stream.status !== 200) throw new Error(`following answered ${stream.status}`);
    void stream.done.then(() => (follower.ended = true));
    return stream;
  });
  const openedMs = performance.now() - started - runsMs;
  try {
    const windowStart = wallClock();
    const cpuBefore = await serverCpuMs(b);
    const windowMs = 3 * settings.heartbeatMs;
    await new Promise((resolve) => setTimeout(resolve, windowMs + settings.heartbeatMs / 4));
    const cpu = (await serverCpuMs(b)) - cpuBefore;
    const alive = followers.filter(
      (follower) => !follower.ended && follower.events >= 2 && follower.heartbeats.filter((at) => at > windowStart).length >= 2,
    ).length;
    const streamsRss = (await rss(b)) / MiB;
    const runsRss = (await rss(a)) / MiB;
    report.valueRow(SECTION, `Open event streams on one instance with events and heartbeats flowing (of ${n.toLocaleString('en')})`, alive, `streams (runs started in ${(runsMs / 1000).toFixed(1)} s, streams opened in ${(openedMs / 1000).toFixed(1)} s; heartbeat every ${settings.heartbeatMs} ms)`, {
      goal: `= ${n}`,
      met: (value) => value === n,
    });
    report.valueRow(SECTION, `RSS of the instance holding ${n.toLocaleString('en')} open event streams`, streamsRss, `MiB (${rssBefore.toFixed(0)} MiB before them)`, {
      goal: '< 400',
      met: (value) => value < 400,
    });
    report.valueRow(SECTION, `CPU of that instance while the ${n.toLocaleString('en')} streams idle (heartbeats, polling)`, (cpu / windowMs) * 100, '% of one core');
    report.valueRow(SECTION, `RSS of the instance running the ${n.toLocaleString('en')} runs they follow`, runsRss, 'MiB');
  } finally {
    for (const stream of streams) stream.close();
    agent.destroy();
  }
}

/**
 * A user with `chats` chats, seeded in one INSERT (two chats per second of updated_at, so that
 * ties are paged by id), paged through GET /chats with the default page size: every chat once,
 * and the first, the second, a middle and the last page timed side by side.
 */
async function pagingChats(bench: BenchDatabase, server: Server, settings: ScaleSettings, report: Report) {
  const user = 'pager';
  await bench.raw.query(
    `INSERT INTO agent_chats (id, user_id, title, created_at, updated_at)
     SELECT 'chat-' || n, $1, 'Chat ' || n, now() - (n / 2) * interval '1 second', now() - (n / 2) * interval '1 second'
     FROM generate_series(1, $2::int) AS n`,
    [user, settings.chats],
  );
  await bench.raw.query('ANALYZE agent_chats');
  const page = async (cursor: string | undefined) => {
    const response = await fetch(`${server.url}/chats${cursor ? `?cursor=${cursor}` : ''}`, { headers: { 'x-user-id': user } });
    if (!response.ok) throw new Error(`GET /chats answered ${response.status}`);
    return (await response.json()) as { chats: { chat_id: string }[]; next_cursor: string | null };
  };
  // Walk every page once: the cursors of each, and a check that every chat came exactly once.
  const cursors: (string | undefined)[] = [undefined];
  const seen = new Set<string>();
  for (;;) {
    const body = await page(cursors.at(-1));
    for (const chat of body.chats) seen.add(chat.chat_id);
    if (!body.next_cursor) break;
    cursors.push(body.next_cursor);
  }
  if (seen.size !== settings.chats) throw new Error(`paging returned ${seen.size} distinct chats of ${settings.chats}`);
  const middle = cursors.length >> 1;
  const result = await compare(
    [
      { name: 'first page', run: () => page(cursors[0]) },
      { name: 'second page', run: () => page(cursors[1]) },
      { name: 'middle page', run: () => page(cursors[middle]) },
      { name: 'last page', run: () => page(cursors.at(-1)) },
    ],
    settings.paging,
  );
  const pages = `${cursors.length.toLocaleString('en')} pages of 20`;
  report.valueRow(SECTION, `GET /chats of a user with ${settings.chats.toLocaleString('en')} chats: first page`, result.medianMs['first page']!, `ms (${pages})`);
  report.valueRow(SECTION, `GET /chats of a user with ${settings.chats.toLocaleString('en')} chats: page 2`, result.medianMs['second page']!, 'ms');
  report.valueRow(SECTION, `GET /chats of a user with ${settings.chats.toLocaleString('en')} chats: page ${middle + 1}`, result.medianMs['middle page']!, 'ms');
  report.ratioRow(SECTION, `GET /chats of a user with ${settings.chats.toLocaleString('en')} chats: last page vs first page`, result, 1.5, {
    contender: 'last page',
    baseline: 'first page',
  });
  // The first page has no cursor to decode and match; from page 2 on, the depth alone.
  report.ratioRow(SECTION, `GET /chats of a user with ${settings.chats.toLocaleString('en')} chats: last page vs page 2`, result, null, {
    contender: 'last page',
    baseline: 'second page',
  });
}
