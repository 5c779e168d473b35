// The README reads in ten minutes: it stays under a third of the 855-line, 53,094-character
// README it replaced (commit 10c0ba1), the reference living in docs/ (links.test.ts checks that
// every page there is reachable from it).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const OLD_README = { lines: 855, characters: 53_094 };

it('keeps the README under a third of the one it replaced, in lines and in characters', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  expect(readme.split('\n').length).toBeLessThan(OLD_README.lines / 3);
  expect(readme.length).toBeLessThan(OLD_README.characters / 3);
});
