import type { Response } from 'express';

/**
 * A server-sent event stream on an Express response. Every event has an increasing `id:`, an
 * `event:` name and one line of JSON `data:`; a comment line every `heartbeatMs` keeps proxies
 * and load balancers from closing an idle connection while the agent thinks.
 */
export class EventStream {
  readonly #res: Response;
  readonly #heartbeat: NodeJS.Timeout;
  #lastId = 0;

  constructor(res: Response, heartbeatMs: number) {
    this.#res = res;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    // no-transform keeps compressing proxies from buffering; X-Accel-Buffering is nginx's switch.
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    this.#heartbeat = setInterval(() => this.#write(': heartbeat\n\n'), heartbeatMs);
    this.#heartbeat.unref();
  }

  /** False once the client went away or the stream was ended. */
  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  send(event: string, data: unknown): void {
    this.#write(`id: ${++this.#lastId}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    clearInterval(this.#heartbeat);
    if (this.open) this.#res.end();
  }

  #write(chunk: string): void {
    if (this.open) this.#res.write(chunk);
  }
}
