// Checks that `npm pack` ships exactly what a consumer needs: the files of every entry point in
// the `exports` map and the chunks they import, the migrations, and the package's own documents.
// No sources, tests, examples, benchmarks, source maps or stray build files. Also checks, on the
// import graph of the build, that the session-only entry never loads express and that the main
// entry never loads vitest (only /testing may).
import { readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';

const root = new URL('../', import.meta.url);
const read = (file) => readFileSync(new URL(file, root), 'utf8');
const [pack] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const files = pack.files.map((file) => file.path).sort();
const manifest = JSON.parse(read('package.json'));
const failures = [];

// Every file the exports map points at, as written there ("./dist/index.js" -> "dist/index.js").
const targets = (value) =>
  typeof value === 'string' ? [posix.normalize(value)] : Object.values(value).flatMap(targets);
const entries = Object.fromEntries(
  Object.entries(manifest.exports)
    .filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, conditions]) => [subpath, targets(conditions)]),
);

// What a built file imports: relative specifiers resolve to files of dist/ (a declaration file's
// "./x.js" is "x.d.ts", its "./x.cjs" is "x.d.cts"), bare ones name packages.
function imports(file) {
  const text = read(file);
  const specifiers = [
    ...text.matchAll(/\b(?:from|import)\s*["']([^"']+)["']|\b(?:require|import)\(\s*["']([^"']+)["']\s*\)/g),
  ].map((match) => match[1] ?? match[2]);
  const local = [];
  const packages = [];
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) {
      packages.push(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);
      continue;
    }
    let target = posix.join(posix.dirname(file), specifier);
    if (file.endsWith('.d.ts')) target = target.replace(/\.js$/, '.d.ts');
    if (file.endsWith('.d.cts')) target = target.replace(/\.cjs$/, '.d.cts');
    local.push(target);
  }
  return { local, packages };
}

// The files reachable from `start`, and the packages they load.
function graph(start) {
  const seen = new Set();
  const packages = new Set();
  const queue = [...start];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const found = imports(file);
    found.local.forEach((next) => queue.push(next));
    found.packages.forEach((name) => packages.add(name));
  }
  return { files: seen, packages };
}

const built = graph(Object.values(entries).flat());
const migrations = readdirSync(new URL('migrations/', root))
  .filter((file) => file.endsWith('.sql'))
  .map((file) => `migrations/${file}`);
const expected = ['LICENSE', 'README.md', 'package.json', ...migrations, ...built.files].sort();

const unexpected = files.filter((file) => !expected.includes(file));
const missing = expected.filter((file) => !files.includes(file));
if (unexpected.length || missing.length) {
  failures.push('npm pack contents differ from what a consumer needs.');
  if (unexpected.length) failures.push(`  unexpected: ${unexpected.join(', ')}`);
  if (missing.length) failures.push(`  missing: ${missing.join(', ')}`);
}
for (const file of files.filter((file) => file.startsWith('dist/'))) {
  if (read(file).includes('sourceMappingURL')) failures.push(`${file} points at a source map the package does not ship.`);
}

// Packages an entry must never load, whatever the consumer has installed.
const forbidden = { './session': ['express', 'vitest'], '.': ['vitest'] };
for (const [subpath, names] of Object.entries(forbidden)) {
  if (!entries[subpath]) {
    failures.push(`package.json exports no "${subpath}".`);
    continue;
  }
  const { packages } = graph(entries[subpath]);
  for (const name of names.filter((name) => packages.has(name))) {
    failures.push(`"${subpath}" loads ${name}, which it must not.`);
  }
}

if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(
  `npm pack: ${files.length} files, ${(pack.size / 1024).toFixed(1)} kB, as expected; ` +
    `entries ${Object.keys(entries).join(', ')}; /session loads no express, the main entry no vitest`,
);
