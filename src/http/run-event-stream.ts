import type { Request, Response } from 'express';
import { isTerminalEvent, type RecordedRunEvent } from '../runs/run-payloads.js';
import { EventStream } from './event-stream.js';

/**
 * Answers a request with a run's events as server-sent events (`id:` the event's id within the
 * run, `event:` its name, `data:` its JSON), from `follow`, which feeds them and resolves when
 * the run's stream is over (or the client went away, which aborts its signal). Ends the response
 * after the terminal event.
 */
export async function sendRunEvents(
  req: Request,
  res: Response,
  heartbeatMs: number,
  follow: (onEvent: (event: RecordedRunEvent) => void, signal: AbortSignal) => Promise<void>,
  onClientGone?: () => void,
): Promise<void> {
  const clientGone = new AbortController();
  // 'close' also follows our own end(); only a close before it means the client left.
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone.abort();
      onClientGone?.();
    }
  });
  if (req.socket.destroyed) {
    clientGone.abort();
    onClientGone?.();
  }
  const stream = new EventStream(res, heartbeatMs);
  try {
    await follow((event) => {
      stream.send(event.event, event.data, event.id);
      if (isTerminalEvent(event)) stream.end();
    }, clientGone.signal);
  } finally {
    stream.end();
  }
}
