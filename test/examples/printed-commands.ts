// Runs the curl commands an example printed at start-up, exactly as printed, in bash: the same
// text a user pastes into a terminal. Each step's output is returned on its own.
import { execFile } from 'node:child_process';
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

/**
 * Runs every printed step in one bash process (so `CHAT=$(...)` carries over), as a user would
 * paste them one after the other, and splits the output by step. After each step the value of
 * $CHAT is printed too, for the test to check.
 */
export async function runPrintedSteps(startUpText: string): Promise<PrintedStep[]> {
  const steps = printedSteps(startUpText);
  if (steps.length === 0) throw new Error(`No "# 1." steps in the start-up text:\n${startUpText}`);
  const script = [
    'set -eo pipefail',
    ...steps.map((step, index) => `echo "@@step ${index}"\n${step.command}echo\necho "@@chat $CHAT"`),
  ].join('\n');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'bash',
      ['-c', script],
      // The printed commands call `node`: the one running the tests, whatever PATH says.
      { timeout: 60_000, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve(out)),
    );
  });
  const outputs = stdout.split(/^@@step \d+\n/m).slice(1);
  return steps.map((step, index) => ({ ...step, output: outputs[index]! }));
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
