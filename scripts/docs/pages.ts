import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pinnedPeerVersions } from '../../bench/peer-versions.js';
import type { Results } from '../../bench/report.js';
import type { ReliabilityResults } from '../../test/reliability/summary.js';
import { benchmarksBlocks, benchmarksCharts } from './benchmarks-page.js';
import { replaceBlocks } from './generated-blocks.js';
import { reliabilityBlocks } from './reliability-page.js';

interface Page {
  /** The page, from the repository's root. */
  page: string;
  /** The results file a run writes, from the repository's root. */
  source: string;
  command: string;
  blocks(results: any): Record<string, string>;
  /** Files drawn from the same results (charts), by path from the repository's root. */
  files?(results: any): Record<string, string>;
}

/** The pages of docs/ whose figures a run writes. */
export const PAGES = {
  benchmarks: {
    page: 'docs/benchmarks.md',
    source: 'bench/results/latest.json',
    command: 'npm run docs:bench',
    blocks: (results: Results) => benchmarksBlocks(results, pinnedPeerVersions()),
    files: (results: Results) => benchmarksCharts(results),
  },
  reliability: {
    page: 'docs/reliability.md',
    source: 'test/reliability/results/latest.json',
    command: 'npm run docs:reliability',
    blocks: (results: ReliabilityResults) => reliabilityBlocks(results),
  },
} satisfies Record<string, Page>;

export type PageName = keyof typeof PAGES;

const root = new URL('../../', import.meta.url);

interface Rendered {
  current: string;
  rendered: string;
  /** The page's other files (charts), each as it is (undefined: missing) and as it should be. */
  files: Record<string, { current: string | undefined; rendered: string }>;
}

/** The page as it is, and as its results file says it should be. */
export function renderPage(name: PageName): Rendered {
  const { page, source, command, blocks, files } = PAGES[name] as Page;
  const current = readFileSync(new URL(page, root), 'utf8');
  const results = JSON.parse(readFileSync(new URL(source, root), 'utf8'));
  const read = (path: string) => (existsSync(new URL(path, root)) ? readFileSync(new URL(path, root), 'utf8') : undefined);
  return {
    current,
    rendered: replaceBlocks(current, blocks(results), `written by \`${command}\` from ${source}`),
    files: Object.fromEntries(Object.entries(files?.(results) ?? {}).map(([path, rendered]) => [path, { current: read(path), rendered }])),
  };
}

/** Renders the page's figures (and charts) from its results file; says whether anything changed. */
export function updatePage(name: PageName): boolean {
  const { current, rendered, files } = renderPage(name);
  let changed = false;
  for (const [path, file] of Object.entries(files)) {
    if (file.current === file.rendered) continue;
    mkdirSync(new URL('.', new URL(path, root)), { recursive: true });
    writeFileSync(new URL(path, root), file.rendered);
    changed = true;
  }
  if (rendered === current) return changed;
  writeFileSync(new URL(PAGES[name].page, root), rendered);
  return true;
}
