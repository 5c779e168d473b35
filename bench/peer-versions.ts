import { existsSync, readFileSync } from 'node:fs';

/** The package each peer is measured through, by its folder in bench/peers/. */
const MEASURED = { langchain: '@langchain/community', mastra: '@mastra/pg' } as const;

function readJson(url: URL): any {
  return JSON.parse(readFileSync(url, 'utf8'));
}

/**
 * The version of each measured peer package that `npm run bench:peers` installed, by package name;
 * a peer that is not installed is left out (the benchmark reports it as not run).
 */
export function installedPeerVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [folder, name] of Object.entries(MEASURED)) {
    const manifest = new URL(`./peers/${folder}/node_modules/${name}/package.json`, import.meta.url);
    if (existsSync(manifest)) versions[name] = readJson(manifest).version;
  }
  return versions;
}

/**
 * The versions bench/peers/<folder>/package.json pins (exact versions, which `bench:peers`
 * installs): for results files written before the run recorded what it had installed.
 */
export function pinnedPeerVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [folder, name] of Object.entries(MEASURED)) {
    versions[name] = readJson(new URL(`./peers/${folder}/package.json`, import.meta.url)).dependencies[name];
  }
  return versions;
}
