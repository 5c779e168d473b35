import type { SseEvent } from './agents.js';

/**
 * A client of a text/event-stream answer that reads it as it arrives, so that a test can act
 * mid-stream (drop the connection, follow elsewhere). Comment lines (heartbeats) are counted.
 */
export class EventStreamClient {
  readonly status: number;
  readonly headers: Headers;
  /** The JSON body when the answer was not a stream (an error, a 204...). */
  readonly body: any;
  heartbeats = 0;
  readonly #controller: AbortController;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #done = false;

  private constructor(response: Response, controller: AbortController, body: unknown) {
    this.status = response.status;
    this.headers = response.headers;
    this.body = body;
    this.#controller = controller;
    this.#reader = body === undefined ? response.body?.getReader() : undefined;
    if (!this.#reader) this.#done = true;
  }

  static async open(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
    const controller = new AbortController();
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: controller.signal,
    });
    const isStream = response.headers.get('content-type')?.startsWith('text/event-stream');
    let body: unknown;
    if (!isStream) {
      const text = await response.text();
      body = text ? JSON.parse(text) : null;
    }
    return new EventStreamClient(response, controller, body);
  }

  /** The next event, or `undefined` once the stream ended. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const lines = block.split('\n').filter(Boolean);
        const data = lines.filter((line) => !line.startsWith(':'));
        if (data.length === 0) {
          this.heartbeats++;
          continue;
        }
        const field = (name: string) => data.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
        return { id: Number(field('id')), event: field('event')!, data: JSON.parse(field('data')!) };
      }
      if (this.#done) return undefined;
      let chunk: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
      try {
        chunk = await this.#reader!.read();
      } catch {
        this.#done = true;
        continue;
      }
      if (chunk.done) this.#done = true;
      else this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Reads events up to and including the first one `stop` accepts (or the end). */
  async until(stop: (event: SseEvent) => boolean): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let event = await this.next(); event; event = await this.next()) {
      events.push(event);
      if (stop(event)) break;
    }
    return events;
  }

  /** Reads every remaining event, to the end of the stream. */
  rest(): Promise<SseEvent[]> {
    return this.until(() => false);
  }

  /** Drops the connection, as a client that goes away does. */
  close(): void {
    this.#controller.abort();
    this.#done = true;
  }
}

export const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled', 'run.awaiting_approval']);
export const isTerminal = (event: SseEvent) => TERMINAL.has(event.event);
