// The figures in docs/ are written by the runs that measure them: each page must be exactly what
// its results file renders, so that a page edited by hand, or a results file committed without
// its page, fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';
import { benchmarksBlocks } from '../../scripts/docs/benchmarks-page.js';
import { replaceBlocks } from '../../scripts/docs/generated-blocks.js';
import { PAGES, renderPage, type PageName } from '../../scripts/docs/pages.js';
import { REPORTED_TESTS, type ReliabilityResults } from '../reliability/summary.js';

describe('pages of docs/ whose figures a run writes', () => {
  for (const name of Object.keys(PAGES) as PageName[]) {
    const { page, source, command } = PAGES[name];
    it(`${page} shows what ${source} renders (\`${command}\` writes it)`, () => {
      const { current, rendered } = renderPage(name);
      expect(current, `${page} differs from ${source}: run \`${command}\`, never edit the figures by hand`).toBe(rendered);
    });
  }

  it('quotes on the reliability page only tests and figures the suite records', () => {
    const suite = readdirSync(new URL('../reliability/', import.meta.url))
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => readFileSync(new URL(`../reliability/${file}`, import.meta.url), 'utf8'))
      .join('\n');
    const results = JSON.parse(readFileSync(new URL('../reliability/results/latest.json', import.meta.url), 'utf8')) as ReliabilityResults;
    expect(results.tests.map((entry) => entry.test).sort()).toEqual([...REPORTED_TESTS].sort());
    for (const label of REPORTED_TESTS) expect(suite, `no test reports "${label}"`).toContain(`'${label}'`);
    // Figures named from what a run saw (`answered ${status}`, `cases: ${family}`), as patterns.
    const named = [...suite.matchAll(/\[`([^`]+)`, /g)].map(
      ([, key]) => new RegExp(`^${key!.split(/\$\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`),
    );
    for (const { test, figures } of results.tests) {
      for (const figure of Object.keys(figures)) {
        const recorded =
          suite.includes(`'${figure}':`) || new RegExp(`^\\s+${figure}:`, 'm').test(suite) || named.some((pattern) => pattern.test(figure));
        expect(recorded, `"${test}" no longer records "${figure}"`).toBe(true);
      }
    }
  });
});

describe('replaceBlocks', () => {
  const page = ['Prose before.', '<!-- figures:a -->', 'old', '<!-- /figures:a -->', 'Prose after.', ''].join('\n');

  it('rewrites only what lies between the markers, and says where the figures come from', () => {
    expect(replaceBlocks(page, { a: 'new' }, 'from x.json')).toBe(
      ['Prose before.', '<!-- figures:a: from x.json -->', '', 'new', '', '<!-- /figures:a -->', 'Prose after.', ''].join('\n'),
    );
  });

  it('gives the same page when rendered twice', () => {
    const once = replaceBlocks(page, { a: 'new' }, 'from x.json');
    expect(replaceBlocks(once, { a: 'new' }, 'from x.json')).toBe(once);
  });

  it('refuses a page that lacks a block, or has one nothing renders', () => {
    expect(() => replaceBlocks(page, { a: 'new', b: 'more' }, 'x')).toThrow('no block for: b');
    expect(() => replaceBlocks(page, {}, 'x')).toThrow('block "a" that nothing renders');
  });
});

describe('benchmarksBlocks', () => {
  const latest = JSON.parse(readFileSync(new URL('../../bench/results/latest.json', import.meta.url), 'utf8')) as Results;

  it('says which goals a run missed, on the row and at the top', () => {
    const rows = latest.rows.map((row) => (row.name === 'popItem' ? { ...row, ratio: 1.42, met: false } : row));
    const blocks = benchmarksBlocks({ ...latest, rows }, {});
    expect(blocks.run).toContain('**Goals not met:** `popItem`.');
    expect(blocks.session).toContain('| `popItem` | 0.84 ms | 0.75 ms | 1.42 (**not met**) | 1.48 |');
  });

  it('shows the versions the run installed, and a peer that could not run', () => {
    const rows = [...latest.rows.filter((row) => row.versus !== 'library / Mastra'), { section: 'peers', name: 'Mastra', note: 'could not run here: no such module' }];
    const blocks = benchmarksBlocks({ ...latest, rows, peers: { '@langchain/community': '9.9.9' } }, { '@mastra/pg': 'pinned' });
    expect(blocks.peers).toContain('Versions: `@langchain/community` 9.9.9.');
    expect(blocks.peers).toContain('| work | library | LangChain | LangChain + index |\n');
    expect(blocks.peers).toContain('- Mastra: could not run here: no such module.');
  });

  it('refuses a quick run', () => {
    expect(() => benchmarksBlocks({ ...latest, quick: true }, {})).toThrow('npm run bench');
  });
});
