import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AgentInputItem } from '@openai/agents';
import type { TestServer } from './http.js';

/** The text of each message the model was sent, as "role: text" (tool items by their type). */
export function transcript(items: readonly AgentInputItem[]): string[] {
  return items.map((item) => {
    if (!('role' in item)) return item.type ?? 'unknown';
    const content = item.content;
    const text =
      typeof content === 'string'
        ? content
        : content.map((part) => ('text' in part ? part.text : `[${part.type}]`)).join('');
    return `${item.role}: ${text}`;
  });
}

export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Parses a whole text/event-stream body; comment lines (heartbeats) are skipped. */
export function parseEvents(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      return { id: Number(field('id')), event: field('event')!, data: JSON.parse(field('data')!) };
    });
}

/** POSTs to a /stream endpoint and collects every event until the stream ends. */
export async function stream(
  server: TestServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; events: SseEvent[]; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const isStream = response.headers.get('content-type')?.startsWith('text/event-stream');
  return {
    status: response.status,
    headers: response.headers,
    events: isStream ? parseEvents(text) : [],
    body: isStream ? undefined : JSON.parse(text),
  };
}

/** A promise with its resolve function, to hold a model call until a test lets it go. */
export function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export interface AppProcess {
  child: ChildProcess;
  url: string;
  stderr: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts test/fixtures/agent-app-process.ts in its own Node process on the given schema. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/agent-app-process.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    // Generous: a process compiles the app with tsx first, slow on a machine busy with other work.
    const timer = setTimeout(() => reject(new Error(`app process did not start: ${stderr.join('\n')}`)), 90_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`app process exited with ${code}: ${stderr.join('\n')}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stderr,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
