import { once } from 'node:events';
import net from 'node:net';
import { Agent } from '@openai/agents';
import { ScriptedModel, assistantMessage, modelStream } from '@openai/agents/testing';
import express, { type Response } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAgentRouter, type AgentRouterOptions } from '../../src/agent-router/create-agent-router.js';
import { EventStream, MAX_QUEUED_BYTES } from '../../src/http/event-stream.js';
import { createChatRouter } from '../../src/chats/create-chat-router.js';
import { parseEvents, sleep } from '../helpers/agents.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';

const quiet = { warn: () => {}, error: () => {} };
const DELTA = 'x'.repeat(10 * 1024);
/** What a stream may hold for a client beyond its queue: the socket's high-water mark and one event. */
const SLACK = 64 * 1024 + DELTA.length;
const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A client that sends its request, then never reads: the kernel's buffers fill (a few MB on
 * loopback), then whatever the server goes on writing stays in the server process.
 */
async function stalledClient(server: TestServer, raw: string): Promise<net.Socket> {
  const { port } = new URL(server.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {}); // the server may reset the connection it drops
  socket.write(raw);
  return socket;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`;

describe('EventStream and a client that stops reading', () => {
  let server: TestServer;
  let opened: Array<(value: { res: Response; stream: EventStream }) => void> = [];
  const sockets: net.Socket[] = [];
  beforeAll(async () => {
    const app = express();
    app.get('/events', (req, res) => {
      const { heartbeatMs, maxQueuedBytes } = JSON.parse(String(req.query.options));
      const stream = new EventStream(res, heartbeatMs, maxQueuedBytes === undefined ? {} : { maxQueuedBytes });
      opened.shift()!({ res, stream });
    });
    server = await listen(app);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    opened = [];
  });
  afterAll(() => server.close());

  async function openStream(options: { heartbeatMs?: number; maxQueuedBytes?: number } = {}) {
    const ready = new Promise<{ res: Response; stream: EventStream }>((resolve) => opened.push(resolve));
    const query = encodeURIComponent(JSON.stringify({ heartbeatMs: 15_000, ...options }));
    const socket = await stalledClient(server, get(`/events?options=${query}`));
    sockets.push(socket);
    return { socket, ...(await ready) };
  }

  it('holds heartbeats back while the socket has not drained', async () => {
    // A queue large enough that this client is not dropped: 10 MB, of which the kernel takes a few.
    const { res, stream } = await openStream({ heartbeatMs: 5, maxQueuedBytes: 64 * 1024 * 1024 });
    for (let i = 0; i < 1000; i++) {
      stream.send('text.delta', { delta: DELTA });
      if (i % 20 === 0) await turn();
    }
    await sleep(50);
    expect(res.writableNeedDrain).toBe(true);
    const [response, total] = [res.writableLength, stream.bufferedBytes];
    // Dozens of heartbeat intervals pass; none of them adds a byte to what waits for the client.
    // (Less is fine: the kernel may still take a little.)
    await sleep(250);
    expect(res.writableLength).toBeLessThanOrEqual(response);
    expect(stream.bufferedBytes).toBeLessThanOrEqual(total);
    stream.end();
  });

  it('keeps at most MAX_QUEUED_BYTES waiting, then drops the client as disconnected', async () => {
    const { res, stream } = await openStream();
    const closed = once(res, 'close');
    let peakResponse = 0;
    let peakTotal = 0;
    let sent = 0;
    for (; sent < 5000 && stream.open; sent++) {
      stream.send('text.delta', { delta: DELTA });
      peakResponse = Math.max(peakResponse, res.writableLength);
      peakTotal = Math.max(peakTotal, stream.bufferedBytes);
      if (sent % 20 === 0) await turn();
    }
    // The process never held more than the queue's cap for this client, plus the socket's slack...
    expect(peakResponse).toBeLessThanOrEqual(SLACK);
    expect(peakTotal).toBeLessThanOrEqual(MAX_QUEUED_BYTES + SLACK);
    // ...since the client, which never read, was dropped long before the 50 MB were sent.
    expect(stream.open).toBe(false);
    expect(sent).toBeLessThan(5000);
    await closed;
    expect(res.destroyed).toBe(true);
    // Sending to a dropped client is a no-op, as for any client that left.
    stream.send('text.delta', { delta: 'late' });
    stream.end();
  });

  it('delivers every event, in order, to a client that stalls and then reads again', async () => {
    const { socket, res, stream } = await openStream({ maxQueuedBytes: 64 * 1024 * 1024 });
    // 10 MB while the client does not read: the kernel takes a few, the queue holds the rest.
    for (let i = 0; i < 1000; i++) {
      stream.send('text.delta', { delta: DELTA });
      if (i % 20 === 0) await turn();
    }
    expect(stream.bufferedBytes).toBeGreaterThan(res.writableLength + 100 * DELTA.length);
    const chunks: Buffer[] = [];
    const received = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (chunk.toString('latin1').endsWith('\r\n0\r\n\r\n')) resolve();
      });
    });
    socket.resume();
    await once(res, 'drain');
    stream.send('run.completed', { final_output: 'done' });
    stream.end();
    await received;
    const events = parseEvents(dechunk(Buffer.concat(chunks)));
    expect(events).toHaveLength(1001);
    expect(events.map((event) => event.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ event: 'run.completed', data: { final_output: 'done' } });
    expect(events.slice(0, -1).every((event) => event.data.delta === DELTA)).toBe(true);
  });
});

/** The body of a raw HTTP/1.1 answer sent with chunked transfer encoding. */
function dechunk(answer: Buffer): string {
  const parts: Buffer[] = [];
  let at = answer.indexOf('\r\n\r\n') + 4;
  for (;;) {
    const lineEnd = answer.indexOf('\r\n', at);
    const size = parseInt(answer.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts).toString('utf8');
    parts.push(answer.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

describeEachEngine('createAgentRouter: /stream to a client that stops reading', (engine) => {
  let database: TestDatabase;
  const sockets: net.Socket[] = [];
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    vi.restoreAllMocks();
  });
  afterAll(() => database.destroy());

  /**
   * A model that streams 2,000 deltas of 10 KB (20 MB), then answers "done". Like a model read
   * from the network, it lets the event loop turn now and then, so the router sees its client go.
   */
  const floodingModel = () =>
    new ScriptedModel([
      modelStream(
        (async function* () {
          yield { type: 'response_started' } as const;
          for (let i = 0; i < 2000; i++) {
            if (i % 50 === 0) await turn();
            yield { type: 'output_text_delta', delta: DELTA } as const;
          }
          yield {
            type: 'response_done',
            response: {
              id: 'resp_flood',
              usage: { requests: 1, inputTokens: 1, outputTokens: 2000, totalTokens: 2001, inputTokensDetails: [], outputTokensDetails: [] },
              output: [assistantMessage('done')],
            },
          } as const;
        })(),
      ),
    ]);

  /**
   * Runs one /stream call from a client that never reads, on a real app. Measures, on the real
   * response, the most it held in process memory: the response's and socket's buffers after each
   * write, and the stream's own queue after each event.
   */
  async function floodStalledClient(options: AgentRouterOptions) {
    const getUserId = (req: express.Request) => req.header('x-user-id');
    const router = createAgentRouter(new Agent({ name: 'Flood', model: floodingModel() }), '/flood', () => database.db, {
      getUserId,
      logger: quiet,
      ...options,
    });
    const measured = { peakResponse: 0, peakTotal: 0, response: undefined as Response | undefined };
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => {
      started = resolve;
    });
    const app = express();
    app.use('/flood/stream', (_req, res, next) => {
      measured.response = res;
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((...args: unknown[]) => {
        const result = write(...args);
        started();
        measured.peakResponse = Math.max(measured.peakResponse, res.writableLength);
        return result;
      }) as typeof res.write;
      next();
    });
    const send = EventStream.prototype.send;
    vi.spyOn(EventStream.prototype, 'send').mockImplementation(function (this: EventStream, event, data) {
      send.call(this, event, data);
      measured.peakTotal = Math.max(measured.peakTotal, this.bufferedBytes);
    });
    app.use(router);
    app.use(createChatRouter(() => database.db, { getUserId, logger: quiet }));
    const server = await listen(app);
    try {
      const alice = { headers: { 'x-user-id': 'alice' } };
      const chatId: string = (await request(server, 'POST', '/chats', alice)).body.chat_id;
      const body = JSON.stringify({ input: 'Tell me everything.', session_id: chatId });
      const socket = await stalledClient(
        server,
        `POST /flood/stream HTTP/1.1\r\nHost: test\r\nx-user-id: alice\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      sockets.push(socket);
      // Once the stream is under way, drain() waits for its run to be stored or failed.
      await streaming;
      const drained = await router.drain({ timeoutMs: 30_000 });
      const runs = (await request(server, 'GET', `/chats/${chatId}/runs`, alice)).body.runs;
      const chat = (await request(server, 'GET', `/chats/${chatId}`, alice)).body;
      return { ...measured, drained, runs, chat };
    } finally {
      await server.close();
    }
  }

  it('drops the client once its queue is full, holds no more than that, and stores the run (onDisconnect "continue")', async () => {
    const result = await floodStalledClient({});
    // 20 MB were streamed; the process held at most the cap for this client, which was dropped.
    expect(result.peakResponse).toBeLessThanOrEqual(SLACK);
    expect(result.peakTotal).toBeLessThanOrEqual(MAX_QUEUED_BYTES + SLACK);
    expect(result.response!.destroyed).toBe(true);
    // The run went on without its client, and was stored.
    expect(result.drained).toEqual({ finished: 1, cancelled: 0 });
    expect(result.runs).toEqual([expect.objectContaining({ status: 'completed', final_output: 'done', streamed: true })]);
    expect(result.chat).toMatchObject({ item_count: 2, conversation: [{ content: 'Tell me everything.' }, { content: 'done' }] });
  });

  it('with onDisconnect "abort", the dropped client cancels the run, which keeps the input and the answer begun', async () => {
    const result = await floodStalledClient({ onDisconnect: 'abort' });
    expect(result.peakResponse).toBeLessThanOrEqual(SLACK);
    expect(result.peakTotal).toBeLessThanOrEqual(MAX_QUEUED_BYTES + SLACK);
    expect(result.response!.destroyed).toBe(true);
    expect(result.runs).toEqual([
      expect.objectContaining({ status: 'cancelled', error: expect.objectContaining({ code: 'client_disconnected' }) }),
    ]);
    // The user's input and the text streamed until the cancel, as an incomplete message.
    expect(result.chat).toMatchObject({ item_count: 2 });
  });
});
