import type { Response } from 'express';

/**
 * The most bytes of events a stream queues for a client whose socket has not drained: 1 MiB, a
 * minute or more of text deltas. A client that falls further behind is dropped (see `send`).
 */
export const MAX_QUEUED_BYTES = 1024 * 1024;

export interface EventStreamOptions {
  /** The most bytes of events queued while the socket has not drained. Defaults to 1 MiB. */
  maxQueuedBytes?: number;
  /** More response headers (a protocol's own, as the AI SDK's UI message stream has). */
  headers?: Record<string, string>;
}

/**
 * A server-sent event stream on an Express response. Every event has an increasing `id:`, an
 * `event:` name and one line of JSON `data:`; a comment line every `heartbeatMs` keeps proxies
 * and load balancers from closing an idle connection while the agent thinks.
 *
 * It honours backpressure: once `res.write()` returns false, events wait in a queue until the
 * socket emits `drain`, and heartbeats are skipped (bytes are already on their way, so the
 * connection is not idle). A client that stops reading would otherwise make the process hold
 * every event of the run; when the queue would grow past `maxQueuedBytes`, the response is
 * destroyed instead, which the router sees as the client leaving (its `onDisconnect` rule).
 */
export class EventStream {
  readonly #res: Response;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #maxQueuedBytes: number;
  #lastId = 0;
  /** Set while the socket has more than it wants: from a write() that returned false to `drain`. */
  #blocked = false;
  #queue: string[] = [];
  #queuedBytes = 0;

  constructor(res: Response, heartbeatMs: number, options: EventStreamOptions = {}) {
    this.#res = res;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    // no-transform keeps compressing proxies from buffering; X-Accel-Buffering is nginx's switch.
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);
    res.flushHeaders();
    res.on('drain', () => this.#flush());
    this.#heartbeat = setInterval(() => {
      if (!this.#blocked) this.#write(': heartbeat\n\n');
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  /** False once the client went away (or was dropped) or the stream was ended. */
  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  /**
   * What this stream holds in process memory for its client: the response's and the socket's
   * buffers (what the kernel has not taken yet) plus the queue.
   */
  get bufferedBytes(): number {
    return this.#res.writableLength + this.#queuedBytes;
  }

  /**
   * Sends one event, or queues it while the socket has not drained. An event that would take the
   * queue past `maxQueuedBytes` drops the client instead (an event is never refused for its size
   * alone: the first one in an empty queue is always taken). On a closed stream it does nothing.
   * Its `id:` is `id`, or the one after the last event's.
   */
  send(event: string, data: unknown, id = this.#lastId + 1): void {
    this.#lastId = id;
    this.#write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends one unnamed event: only a `data:` line (what the AI SDK's protocol reads). */
  sendData(data: unknown): void {
    this.#write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream, with what is still queued. */
  end(): void {
    clearInterval(this.#heartbeat);
    if (!this.open) return;
    // The queue is bounded, so it is handed over whole rather than kept until a drain that a
    // stalled client may never give.
    const rest = this.#takeQueue();
    if (rest) this.#res.end(rest);
    else this.#res.end();
  }

  #write(chunk: string): void {
    if (!this.open) return;
    if (!this.#blocked) {
      this.#blocked = !this.#res.write(chunk);
      return;
    }
    const bytes = Buffer.byteLength(chunk);
    if (this.#queuedBytes > 0 && this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      this.#dropClient();
      return;
    }
    this.#queue.push(chunk);
    this.#queuedBytes += bytes;
  }

  /** On `drain`: writes queued events until the socket is full again. */
  #flush(): void {
    this.#blocked = false;
    let sent = 0;
    while (sent < this.#queue.length && !this.#blocked && this.open) {
      const chunk = this.#queue[sent++]!;
      this.#queuedBytes -= Buffer.byteLength(chunk);
      this.#blocked = !this.#res.write(chunk);
    }
    this.#queue.splice(0, sent);
  }

  #takeQueue(): string {
    const rest = this.#queue.join('');
    this.#queue = [];
    this.#queuedBytes = 0;
    return rest;
  }

  /** A client this far behind is treated as gone: the router's 'close' handler takes it from here. */
  #dropClient(): void {
    clearInterval(this.#heartbeat);
    this.#takeQueue();
    this.#res.destroy();
  }
}
