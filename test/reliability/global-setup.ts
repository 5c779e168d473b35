import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const file = join(tmpdir(), `reliability-summary-${process.pid}.jsonl`);

export function setup(): void {
  rmSync(file, { force: true });
  process.env.RELIABILITY_SUMMARY_FILE = file;
}

/** Prints every test's figures once the suite is done. */
export function teardown(): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { test: string; figures: Record<string, number> });
  console.log('\nReliability summary');
  for (const { test, figures } of lines) {
    console.log(`  ${test}`);
    for (const [name, value] of Object.entries(figures)) console.log(`    ${name.padEnd(40)} ${value.toLocaleString('en')}`);
  }
  rmSync(file, { force: true });
}
