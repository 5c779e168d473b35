// Starts an example as a user would (`node --import tsx examples/...`), in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { POSTGRES_URL } from '../helpers/database.js';

export interface ExampleProcess {
  /** The URL the example printed in its "Listening on" line. */
  url: string;
  /** The example's process id (its own child processes have it as their parent). */
  pid: number;
  /** Everything it printed on stdout up to and including that line. */
  startUpText: string;
  stderr: string[];
  stop(): Promise<void>;
}

export interface ExampleEnv {
  /** Unset: the example runs on its embedded pg-mem database. */
  DATABASE_URL?: string;
  [name: string]: string | undefined;
}

/**
 * The child's environment: never an OpenAI key (the tests check the offline demo model), and no
 * DATABASE_URL unless asked for, since CI exports one for the test suites themselves.
 */
export function exampleEnv(env: ExampleEnv = {}): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env };
  delete result.OPENAI_API_KEY;
  delete result.OPENAI_MODEL;
  delete result.DATABASE_URL;
  for (const [name, value] of Object.entries(env)) if (value !== undefined) result[name] = value;
  return result;
}

/** Starts a server example on a free port and waits for its "Listening on <url>" line. */
export async function startExample(script: string, env: ExampleEnv = {}): Promise<ExampleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: exampleEnv({ ...env, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${stderr.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const listening = /^Listening on (http:\/\/\S+)/.exec(line);
      if (listening) {
        clearTimeout(timer);
        resolve(listening[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before listening:\n${stderr.join('\n')}`));
    });
  });
  return { url, pid: child.pid!, startUpText: lines.join('\n'), stderr, stop: () => stop(child) };
}

/** Runs a script example to its end; resolves with its exit code and output. */
export function runExample(
  script: string,
  env: ExampleEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: exampleEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Ends the example as Ctrl+C would; kills it if it does not exit within 10 s. */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A port nothing listens on right now, as a user would pick with PORT=... */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** DATABASE_URL for a schema of the test server, as a user could write it (pg reads `options`). */
export function databaseUrlFor(schema: string): string {
  const separator = POSTGRES_URL.includes('?') ? '&' : '?';
  return `${POSTGRES_URL}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}
