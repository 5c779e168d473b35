// Checks that `npm pack` ships exactly what a consumer needs: the build, the migrations, and the
// package's own documents. No sources, tests, examples, benchmarks or source maps.
import { readFileSync, readdirSync } from 'node:fs';

const [pack] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const files = pack.files.map((file) => file.path).sort();
const migrations = readdirSync(new URL('../migrations/', import.meta.url))
  .filter((file) => file.endsWith('.sql'))
  .map((file) => `migrations/${file}`);
const expected = [
  'LICENSE',
  'README.md',
  'dist/index.cjs',
  'dist/index.d.cts',
  'dist/index.d.ts',
  'dist/index.js',
  ...migrations,
  'package.json',
].sort();

const unexpected = files.filter((file) => !expected.includes(file));
const missing = expected.filter((file) => !files.includes(file));
if (unexpected.length || missing.length) {
  console.error('npm pack contents differ from what a consumer needs.');
  if (unexpected.length) console.error(`  unexpected: ${unexpected.join(', ')}`);
  if (missing.length) console.error(`  missing: ${missing.join(', ')}`);
  process.exit(1);
}
for (const file of files.filter((file) => file.startsWith('dist/'))) {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  if (text.includes('sourceMappingURL')) {
    console.error(`${file} points at a source map the package does not ship.`);
    process.exit(1);
  }
}
console.log(`npm pack: ${files.length} files, ${(pack.size / 1024).toFixed(1)} kB, as expected`);
