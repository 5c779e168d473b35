import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeResults, type TestFigures } from './summary.js';

const file = join(tmpdir(), `reliability-summary-${process.pid}.jsonl`);

export function setup(): void {
  rmSync(file, { force: true });
  process.env.RELIABILITY_SUMMARY_FILE = file;
}

/**
 * Prints every test's figures once the suite is done, and writes them to
 * test/reliability/results/latest.json (the source of docs/reliability.md's figures) when the
 * run reported every test the docs quote.
 */
export function teardown(): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TestFigures);
  console.log('\nReliability summary');
  const width = Math.max(40, ...lines.flatMap(({ figures }) => Object.keys(figures).map((name) => name.length)));
  for (const { test, figures } of lines) {
    console.log(`  ${test}`);
    for (const [name, value] of Object.entries(figures)) console.log(`    ${name.padEnd(width)} ${value.toLocaleString('en')}`);
  }
  const missing = writeResults(lines);
  console.log(
    missing.length === 0
      ? '\nFigures written to test/reliability/results/latest.json; `npm run docs:reliability` renders docs/reliability.md from them.'
      : `\nNot a whole run (no figures from: ${missing.join('; ')}): test/reliability/results/latest.json left as it was.`,
  );
  rmSync(file, { force: true });
}
