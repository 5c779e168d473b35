import type { Request, Response } from 'express';
import { UiMessageMapper } from '../ai-sdk/ui-message-chunks.js';
import { isTerminalEvent, type RecordedRunEvent } from '../runs/run-payloads.js';
import { EventStream } from './event-stream.js';

/** The AI SDK's UI message stream headers (beside the event stream's own). */
const UI_MESSAGE_STREAM_HEADERS = { 'x-vercel-ai-ui-message-stream': 'v1' };

/**
 * Answers a request with a run's events as the AI SDK's UI message stream (`data:` lines of
 * JSON chunks, what `useChat` reads), from `follow`, which feeds the events and resolves when
 * the run's stream is over (or the client went away, which aborts its signal).
 */
export async function sendUiMessageStream(
  req: Request,
  res: Response,
  heartbeatMs: number,
  follow: (onEvent: (event: RecordedRunEvent) => void, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const clientGone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort();
  });
  if (req.socket.destroyed) clientGone.abort();
  const stream = new EventStream(res, heartbeatMs, { headers: UI_MESSAGE_STREAM_HEADERS });
  const mapper = new UiMessageMapper();
  try {
    await follow((event) => {
      for (const chunk of mapper.map(event)) stream.sendData(chunk);
      if (isTerminalEvent(event)) {
        stream.sendData('[DONE]');
        stream.end();
      }
    }, clientGone.signal);
  } finally {
    stream.end();
  }
}
