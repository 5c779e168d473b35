import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';

/** The figures one test reported, under the label it gave them. */
export interface TestFigures {
  test: string;
  figures: Record<string, number>;
}

/**
 * What a run of the whole suite writes to `test/reliability/results/latest.json`, and what
 * docs/reliability.md's figures are rendered from (`npm run docs:reliability`).
 */
export interface ReliabilityResults {
  /** When the run ended, ISO 8601. */
  date: string;
  /** Every test's figures, in the order the tests reported them. */
  tests: TestFigures[];
}

export const RESULTS_FILE = new URL('./results/latest.json', import.meta.url);

/**
 * The labels of the tests whose figures docs/reliability.md quotes. A run that did not report all
 * of them (one file, a filtered run) leaves the results file as it was, so that the docs are
 * never rendered from half a run.
 */
export const REPORTED_TESTS = [
  'two instances, one database',
  'pg_terminate_backend under load',
  'PostgreSQL restarted under load',
  'an instance killed with SIGKILL mid-run',
  'graceful shutdown on SIGTERM',
  'followers of a run whose instance was SIGKILLed',
  'PostgreSQL restarted under a followed stream',
  'cancel during a database outage',
  'approval decided after its instance restarted',
  '20 decisions and a cancel on one waiting run',
  'hostile input: every endpoint',
  'hostile input: oversized bodies',
  'hostile input: ids in paths',
  'hostile input: text stored verbatim',
  'hostile input: runs, approvals, AI SDK, state, memories',
  'hostile input: focused properties on the new endpoints',
  'isolation: user B against user A',
  'isolation: getUserId throws',
  'isolation: runs, approvals, AI SDK, state, memories',
] as const;

/**
 * Figures the reliability tests report (requests sent, successes, 409s, 503s, turns checked,
 * items lost, fuzz cases...). Each test appends its line to a file the global setup creates, and
 * the global teardown prints them all as the suite's summary and writes them to RESULTS_FILE.
 */
export function recordFigures(test: string, figures: Record<string, number>): void {
  const file = process.env.RELIABILITY_SUMMARY_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ test, figures })}\n`);
}

/**
 * Writes a run's figures to RESULTS_FILE if the run reported every test of REPORTED_TESTS, and
 * returns the labels it is missing otherwise (then nothing is written).
 */
export function writeResults(tests: TestFigures[], file: URL = RESULTS_FILE, date = new Date()): string[] {
  const missing = REPORTED_TESTS.filter((label) => !tests.some((entry) => entry.test === label));
  if (missing.length > 0) return missing;
  const results: ReliabilityResults = { date: date.toISOString(), tests };
  mkdirSync(new URL('./', file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return [];
}
