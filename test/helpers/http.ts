import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves an Express app on a free port of 127.0.0.1. */
export async function listen(app: { listen: (port: number, host: string, cb: () => void) => Server }): Promise<TestServer> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, '127.0.0.1', () => resolve(started));
  });
  // fetch reuses idle connections; under a loaded machine (CI on 2 cores) a server that closes
  // them after Node's default 5 s can do so while a request is being sent on one (ECONNRESET).
  server.keepAliveTimeout = 60_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when the body is empty. */
  body: any;
  text: string;
}

export interface RequestOptions {
  /** Sent as JSON unless it is a string (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP request with fetch; the JSON answer is parsed (and its parse error reported). */
export async function request(
  server: TestServer,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  if (text.length > 0 && response.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed, text };
}
