import { readFileSync, writeFileSync } from 'node:fs';
import { pinnedPeerVersions } from '../../bench/peer-versions.js';
import type { Results } from '../../bench/report.js';
import type { ReliabilityResults } from '../../test/reliability/summary.js';
import { benchmarksBlocks } from './benchmarks-page.js';
import { replaceBlocks } from './generated-blocks.js';
import { reliabilityBlocks } from './reliability-page.js';

interface Page {
  /** The page, from the repository's root. */
  page: string;
  /** The results file a run writes, from the repository's root. */
  source: string;
  command: string;
  blocks(results: any): Record<string, string>;
}

/** The pages of docs/ whose figures a run writes. */
export const PAGES = {
  benchmarks: {
    page: 'docs/benchmarks.md',
    source: 'bench/results/latest.json',
    command: 'npm run docs:bench',
    blocks: (results: Results) => benchmarksBlocks(results, pinnedPeerVersions()),
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

/** The page as it is, and as its results file says it should be. */
export function renderPage(name: PageName): { current: string; rendered: string } {
  const { page, source, command, blocks } = PAGES[name] as Page;
  const current = readFileSync(new URL(page, root), 'utf8');
  const results = JSON.parse(readFileSync(new URL(source, root), 'utf8'));
  return { current, rendered: replaceBlocks(current, blocks(results), `written by \`${command}\` from ${source}`) };
}

/** Renders the page's figures from its results file; says whether the page changed. */
export function updatePage(name: PageName): boolean {
  const { current, rendered } = renderPage(name);
  if (rendered === current) return false;
  writeFileSync(new URL(PAGES[name].page, root), rendered);
  return true;
}
