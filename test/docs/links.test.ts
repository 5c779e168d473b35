// The README is the ten-minute guide and docs/ the reference: every page of docs/ must be reachable
// from the README, and every relative link of either (anchors included) must lead somewhere.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pages = ['README.md', ...readdirSync(new URL('docs/', root)).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];

/** The file's text without fenced code, where `[x](y)` is code, not a link. */
function prose(file: string): string {
  return readFileSync(new URL(file, root), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(file).matchAll(/^#{1,6} (.*)$/gm)) {
    const slug = heading!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

function links(file: string): string[] {
  return [...prose(file).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
}

describe('links of the README and docs/', () => {
  it('reach every page of docs/ from the README', () => {
    const fromReadme = new Set(links('README.md').map((target) => target.split('#')[0]));
    expect(pages.filter((page) => page !== 'README.md' && !fromReadme.has(page))).toEqual([]);
  });

  for (const page of pages) {
    it(`lead somewhere from ${page}`, () => {
      const broken = links(page).filter((target) => {
        const [path, anchor] = target.split('#');
        const file = path ? new URL(path, new URL(page, root)).pathname.slice(new URL(root).pathname.length) : page;
        if (!existsSync(new URL(file, root))) return true;
        return anchor !== undefined && !anchors(file).has(anchor);
      });
      expect(broken).toEqual([]);
    });
  }
});
