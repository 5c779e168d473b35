// Runs the curl commands an example printed at start-up, exactly as printed, in bash: the same
// text a user pastes into a terminal, one step after the other. Each step's output is returned on
// its own.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PrintedStep {
  /** The comment above the command, e.g. "2. Tell the character creator who your hero is". */
  title: string;
  command: string;
  output: string;
}

/** The numbered steps ("# 1. ..." followed by its command lines) of an example's start-up text. */
export function printedSteps(startUpText: string): { title: string; command: string }[] {
  const steps: { title: string; command: string }[] = [];
  for (const line of startUpText.split('\n')) {
    const title = /^# (\d+\..*)$/.exec(line);
    if (title) steps.push({ title: title[1]!, command: '' });
    else if (/^Listening on /.test(line)) break;
    else if (steps.length > 0 && line.trim()) steps.at(-1)!.command += `${line}\n`;
  }
  return steps;
}

export interface RunStepsOptions {
  /**
   * Called after each step, before the next one is pasted: a test can look at the app between two
   * steps (has the tool run yet?). The bash process waits meanwhile, its variables kept.
   */
  afterStep?: (step: PrintedStep, index: number) => Promise<void> | void;
}

/**
 * Runs every printed step in one bash process (so `CHAT=$(...)` carries over), as a user would
 * paste them one after the other, and splits the output by step. After each step the value of
 * $CHAT is printed too, for the test to check.
 */
export async function runPrintedSteps(startUpText: string, options: RunStepsOptions = {}): Promise<PrintedStep[]> {
  const steps = printedSteps(startUpText);
  if (steps.length === 0) throw new Error(`No "# 1." steps in the start-up text:\n${startUpText}`);
  // The printed commands call `node`: the one running the tests, whatever PATH says.
  const shell = spawn('bash', ['-s'], {
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let closed = false;
  let wake = () => {};
  shell.stdout!.on('data', (chunk) => {
    stdout += chunk;
    wake();
  });
  shell.stderr!.on('data', (chunk) => (stderr += chunk));
  shell.once('close', () => {
    closed = true;
    wake();
  });
  // What the step printed, once bash has run it; throws if bash stops first (`set -e`: a command
  // failed) or the step takes over a minute.
  const output = async (index: number): Promise<string> => {
    const marker = `@@done ${index}\n`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const end = stdout.indexOf(marker);
      if (end !== -1) {
        const text = stdout.slice(0, end);
        stdout = stdout.slice(end + marker.length);
        return text;
      }
      const problem = closed ? `bash exited with ${shell.exitCode}` : Date.now() > deadline ? 'timed out after 60 s' : undefined;
      if (problem) throw new Error(`step ${steps[index]!.title}: ${problem}\n${stdout}\n${stderr}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
  };
  try {
    shell.stdin!.write('set -eo pipefail\n');
    const results: PrintedStep[] = [];
    for (const [index, step] of steps.entries()) {
      shell.stdin!.write(`${step.command}echo\necho "@@chat $CHAT"\necho "@@done ${index}"\n`);
      const result = { ...step, output: await output(index) };
      results.push(result);
      await options.afterStep?.(result, index);
    }
    shell.stdin!.end();
    return results;
  } catch (error) {
    shell.kill();
    throw error;
  }
}

/** The step's output without the trailing "@@chat ..." line. */
export function outputOf(step: PrintedStep): string {
  return step.output.replace(/\n?@@chat .*\n$/, '').trim();
}

/** The value $CHAT had after the step. */
export function chatAfter(step: PrintedStep): string {
  return /@@chat (.*)\n$/.exec(step.output)?.[1] ?? '';
}

/**
 * The numbered steps of the first ```sh block of a README that holds them, with the URL the app
 * printed in place of the README's http://localhost:3000: so a README cannot drift from what the
 * app prints.
 */
export function readmeSteps(readme: string, url: string): { title: string; command: string }[] {
  const blocks = [...readFileSync(readme, 'utf8').matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  const block = blocks.find((text) => text.startsWith('# 1.')) ?? '';
  return printedSteps(block.replaceAll('http://localhost:3000', url));
}
