import { appendFileSync } from 'node:fs';

/**
 * Figures the reliability tests report (requests sent, successes, 409s, 503s, turns checked,
 * items lost, fuzz cases...). Each test appends its line to a file the global setup creates, and
 * the global teardown prints them all as the suite's summary.
 */
export function recordFigures(test: string, figures: Record<string, number>): void {
  const file = process.env.RELIABILITY_SUMMARY_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ test, figures })}\n`);
}
