/**
 * A page in docs/ mixes hand-written prose with figures that a run wrote to a JSON file. Each
 * block of figures sits between two marker comments, and only what lies between them is ever
 * rewritten:
 *
 *     <!-- figures:peers: written by `npm run docs:bench` from bench/results/latest.json -->
 *     ...
 *     <!-- /figures:peers -->
 */
const BLOCK = /<!-- figures:([a-z-]+)(?:: [^\n]*?)? -->\n[\s\S]*?<!-- \/figures:\1 -->/g;

/**
 * Returns `page` with the content of each named block replaced by `blocks[name]`, and each opening
 * marker saying `source`. Throws when a block is missing, repeated, or unknown, so that a renamed
 * block can never leave stale figures behind.
 */
export function replaceBlocks(page: string, blocks: Record<string, string>, source: string): string {
  const seen: string[] = [];
  const replaced = page.replace(BLOCK, (_, name: string) => {
    const content = blocks[name];
    if (content === undefined) throw new Error(`The page has a block "${name}" that nothing renders.`);
    if (seen.includes(name)) throw new Error(`The page has the block "${name}" twice.`);
    seen.push(name);
    return `<!-- figures:${name}: ${source} -->\n\n${content.trim()}\n\n<!-- /figures:${name} -->`;
  });
  const missing = Object.keys(blocks).filter((name) => !seen.includes(name));
  if (missing.length > 0) throw new Error(`The page has no block for: ${missing.join(', ')}.`);
  return replaced;
}
