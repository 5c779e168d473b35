// What the reliability suite's teardown writes (test/reliability/summary.ts) is what the docs
// page is rendered from: checked here without running the suite, which restarts PostgreSQL.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reliabilityBlocks } from '../../scripts/docs/reliability-page.js';
import { recordFigures, writeResults, type ReliabilityResults, type TestFigures } from '../reliability/summary.js';

const committed = JSON.parse(readFileSync(new URL('../reliability/results/latest.json', import.meta.url), 'utf8')) as ReliabilityResults;
let directory: string;
let target: URL;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'reliability-results-'));
  target = pathToFileURL(join(directory, 'results', 'latest.json'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
  delete process.env.RELIABILITY_SUMMARY_FILE;
});

/** The committed figures, recorded as the tests record them and read back as the teardown reads them. */
function recordedAsTheSuiteDoes(tests: TestFigures[]): TestFigures[] {
  const lines = join(directory, 'summary.jsonl');
  process.env.RELIABILITY_SUMMARY_FILE = lines;
  for (const { test, figures } of tests) recordFigures(test, figures);
  return readFileSync(lines, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as TestFigures);
}

describe('the reliability results file', () => {
  it('is written by a whole run in the shape the docs page is rendered from', () => {
    const date = new Date('2026-12-01T10:00:00.000Z');
    expect(writeResults(recordedAsTheSuiteDoes(committed.tests), target, date)).toEqual([]);
    const written = JSON.parse(readFileSync(target, 'utf8')) as ReliabilityResults;
    expect(written).toEqual({ date: '2026-12-01T10:00:00.000Z', tests: committed.tests });
    expect(reliabilityBlocks(written).summary).toBe(reliabilityBlocks({ ...committed, date: written.date }).summary);
  });

  it('is left alone by a run that did not report every test the page quotes', () => {
    const partial = recordedAsTheSuiteDoes(committed.tests.filter((entry) => !entry.test.startsWith('isolation')));
    expect(writeResults(partial, target)).toEqual([
      'isolation: user B against user A',
      'isolation: getUserId throws',
      'isolation: runs, approvals, AI SDK, state, memories',
    ]);
    expect(existsSync(target)).toBe(false);
  });
});
