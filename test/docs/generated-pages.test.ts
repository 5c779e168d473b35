// The figures in docs/ are written by the runs that measure them: each page must be exactly what
// its results file renders, so that a page edited by hand, or a results file committed without
// its page, fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';
import { benchmarksBlocks, benchmarksCharts } from '../../scripts/docs/benchmarks-page.js';
import { replaceBlocks } from '../../scripts/docs/generated-blocks.js';
import { PAGES, renderPage, type PageName } from '../../scripts/docs/pages.js';
import { REPORTED_TESTS, type ReliabilityResults } from '../reliability/summary.js';

describe('pages of docs/ whose figures a run writes', () => {
  for (const name of Object.keys(PAGES) as PageName[]) {
    const { page, source, command } = PAGES[name];
    it(`${page} shows what ${source} renders (\`${command}\` writes it)`, () => {
      const { current, rendered, files } = renderPage(name);
      expect(current, `${page} differs from ${source}: run \`${command}\`, never edit the figures by hand`).toBe(rendered);
      for (const [path, file] of Object.entries(files)) {
        expect(file.current, `${path} differs from ${source}: run \`${command}\``).toBe(file.rendered);
      }
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
  // A fixed results file (a full run from before the floor, durability and scale sections), so
  // that these checks of the renderer do not change with each new run's figures.
  const latest = JSON.parse(readFileSync(new URL('../fixtures/bench-results.json', import.meta.url), 'utf8')) as Results;

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

  it('shows the floor under a /run, its profile and the default window, with their charts', () => {
    const floor = [1, 8].flatMap((clients) => {
      const label = `${clients} client${clients > 1 ? 's' : ''}`;
      const figure = (name: string, value: number) => ({ section: 'floor', name: `${name}, ${label}`, value, unit: 'ms p50, 9.00 ms p99' });
      return [
        figure('/run', 5 * clients),
        figure('HTTP floor', clients),
        figure('SDK floor', 2 * clients),
        figure('SQL floor', clients),
        { section: 'floor', name: `library overhead, ${label}`, value: clients, unit: 'ms p50', goal: '≤ 0.5 ms', met: false },
      ];
    });
    const profile = [
      { section: 'profile', name: 'CPU per /run: the SDK', value: 2.5, unit: 'ms (41.0%)' },
      { section: 'profile', name: 'top function 1', note: 'run (x.js:1), the SDK: 1.000 ms per /run (16.0%)' },
    ];
    const growth = [
      { section: 'growth', name: '/run on a session of 10,000 items, no historyLimit', value: 300, unit: 'ms p50' },
      { section: 'growth', name: '/run on a session of 10,000 items, default historyLimit (1,000)', value: 30, unit: 'ms p50' },
    ];
    const results = { ...latest, rows: [...latest.rows, ...floor, ...profile, ...growth] };
    const blocks = benchmarksBlocks(results, {});
    expect(blocks.floor).toContain('| 8 | 40 ms | 8 ms | 16 ms | 8 ms | 8 ms (**not met**) |');
    expect(blocks.floor).toContain('![/run p50 as HTTP floor + SDK floor + SQL floor + the library](benchmarks/floor.svg)');
    expect(blocks.profile).toContain('| the SDK | 2.50 ms | 41.0% |');
    expect(blocks.profile).toContain('1. run (x.js:1), the SDK: 1.000 ms per /run (16.0%)');
    expect(blocks.growth).toContain('| 10,000 items | 300 ms | 7.39 ms | 30 ms |');
    expect(blocks.growth).toContain('| default (`historyLimit: 1000`) |');
    const charts = benchmarksCharts(results);
    expect(Object.keys(charts).sort()).toEqual(['docs/benchmarks/floor.svg', 'docs/benchmarks/history.svg', 'docs/benchmarks/peers.svg']);
    expect(charts['docs/benchmarks/floor.svg']).toContain('/run 40 ms');
    expect(charts['docs/benchmarks/history.svg']).toContain('historyLimit: 1000 (default)');
  });

  it('lists the rows of the durability and scale sections, or says a run predates them', () => {
    const blocks = benchmarksBlocks({ ...latest, rows: [...latest.rows, { section: 'scale', name: 'RSS with 1,000 open streams', value: 180, unit: 'MiB' }] }, {});
    expect(blocks.scale).toBe('- RSS with 1,000 open streams: **180** MiB.');
    expect(blocks.durability).toContain('Not measured by the last full run');
  });

  it('splits the CPU of a /run by process, with the throughput ratio it predicts beside the one measured', () => {
    const part = (contender: string, name: string, value: number) => ({ section: 'cpu', name: `CPU per /run, 8 clients, ${contender}, ${name}`, value, unit: 'ms' });
    const cpu = [
      part('library', 'server', 8),
      part('library', 'PostgreSQL', 2.5),
      part('library', 'load generator', 1.5),
      part('hand-written', 'server', 6),
      part('hand-written', 'PostgreSQL', 1.25),
      part('hand-written', 'load generator', 1.25),
      { section: 'cpu', name: '/run throughput the CPU predicts, 8 clients', ratio: 0.85 },
    ];
    const blocks = benchmarksBlocks({ ...latest, rows: [...latest.rows, ...cpu] }, {});
    const measured = latest.rows.find((row) => row.name === '/run throughput, 8 clients (req/s)')!.ratio!.toFixed(2);
    expect(blocks.cpu).toContain(`| 8 | library | 8 ms | 2.50 ms | 1.50 ms | 12 ms | 0.85 | ${measured} |`);
    expect(blocks.cpu).toContain('|  | hand-written | 6 ms | 1.25 ms | 1.25 ms | 8.50 ms |  |  |');
    expect(benchmarksBlocks(latest, {}).cpu).toContain('Not measured by the last full run');
  });

  it('refuses a quick run', () => {
    expect(() => benchmarksBlocks({ ...latest, quick: true }, {})).toThrow('npm run bench');
  });
});
