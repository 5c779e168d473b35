// Fails CI when the real-PostgreSQL suites did not run: a skipped "[postgres]" test counts as a
// failure here, and so does a run without any of them.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const report = JSON.parse(readFileSync(file, 'utf8'));
const tests = report.testResults.flatMap((result) => result.assertionResults);
const postgres = tests.filter((test) => test.fullName.includes('[postgres]'));
const ran = postgres.filter((test) => test.status === 'passed');
const skipped = tests.filter((test) => test.status !== 'passed' && test.status !== 'failed');
const failed = tests.filter((test) => test.status === 'failed');

console.log(
  `${file}: ${tests.length} tests, ${postgres.length} on real PostgreSQL (${ran.length} passed), ` +
    `${skipped.length} skipped, ${failed.length} failed`,
);
if (failed.length > 0 || !report.success) process.exit(1);
if (ran.length === 0) {
  console.error('No test ran on real PostgreSQL.');
  process.exit(1);
}
if (skipped.length > 0) {
  console.error(`Skipped tests (not allowed in CI):\n  ${skipped.map((test) => test.fullName).join('\n  ')}`);
  process.exit(1);
}
