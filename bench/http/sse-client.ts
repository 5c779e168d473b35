/**
 * A small server-sent events client on node:http, for benchmarks that hold many streams at once
 * (fetch would do for one, but its pool and buffering are not ours to size) and time each event's
 * arrival.
 */
import http from 'node:http';
import { wallClock } from './streaming-models.js';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseHandlers {
  /** Each event, with the wall-clock time its last chunk arrived. Return true to close the stream. */
  onEvent?: (event: SseEvent, at: number) => boolean | void;
  /** Each comment line (`: heartbeat`). */
  onComment?: (text: string, at: number) => void;
}

export interface SseRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
  /** Sized by the caller for the number of streams it holds. */
  agent?: http.Agent;
}

export interface SseStream {
  status: number;
  /** Resolves when the server ended the stream or it was closed. */
  done: Promise<void>;
  close(): void;
}

/** Opens a stream; resolves once the response headers arrived (any status: check `status`). */
export function openSse(url: string, request: SseRequest, handlers: SseHandlers): Promise<SseStream> {
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: request.method ?? 'GET',
      agent: request.agent,
      headers: { ...request.headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      let buffer = '';
      let closed = false;
      const close = () => {
        closed = true;
        res.destroy();
      };
      const done = new Promise<void>((end) => {
        res.once('close', end);
        res.once('end', end);
        res.once('error', () => end());
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = wallClock();
        buffer += chunk;
        let boundary: number;
        while (!closed && (boundary = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          if (frame.startsWith(':')) {
            handlers.onComment?.(frame.slice(1).trim(), at);
            continue;
          }
          const event: SseEvent = { event: 'message', data: '' };
          for (const line of frame.split('\n')) {
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).trimStart();
            if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
            else if (field === 'data') event.data = value;
          }
          if (handlers.onEvent?.(event, at)) close();
        }
      });
      resolve({ status: res.statusCode ?? 0, done, close });
    });
    req.end(body);
  });
}

/**
 * Starts a run through an agent router's POST /stream and resolves with the run's id once its
 * first event came; `onEvent` sees every event with its arrival time, and `stream.done` resolves
 * at the run's end (or when the caller closes it: the run goes on, `onDisconnect: "continue"`).
 */
export async function startRunStream(
  url: string,
  sessionId: string,
  headers: Record<string, string>,
  onEvent: (event: SseEvent, at: number) => void = () => {},
): Promise<{ runId: string; stream: SseStream }> {
  let started: (runId: string) => void;
  const runId = new Promise<string>((resolve) => (started = resolve));
  const stream = await openSse(url, { method: 'POST', headers, body: { input: 'stream', session_id: sessionId } }, {
    onEvent: (event, at) => {
      if (event.event === 'run.started') started(JSON.parse(event.data).run_id);
      onEvent(event, at);
    },
  });
  if (stream.status !== 200) throw new Error(`${url} answered ${stream.status}`);
  return { runId: await Promise.race([runId, stream.done.then(() => Promise.reject(new Error(`${url}: no run.started`)))]), stream };
}
