import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// Peers (express, kysely, pg, @openai/agents, zod, vitest) stay external: tsup leaves every
// dependency and peer dependency of package.json out of the bundle.
const common: Options = {
  dts: true,
  // Splitting (also for CJS) puts the modules entries share into chunks, so each class exists
  // once per format: an error thrown from /session or checked by /testing is `instanceof` the
  // same class imported from the main entry.
  splitting: true,
  // Source maps would point at src/, which the package does not ship.
  sourcemap: false,
  target: 'node22',
  outDir: 'dist',
  // Migrations are bundled as text, so the package never has to find them on disk.
  loader: { '.sql': 'text' },
};

// The two builds below run at the same time and write to the same dist/, so neither may clean it
// (tsup's `clean` would delete the other's files): it is emptied once, before both start.
export default defineConfig((): Options[] => {
  rmSync('dist', { recursive: true, force: true });
  return [
    {
      ...common,
      entry: { index: 'src/index.ts', session: 'src/session/index.ts', testing: 'src/testing/index.ts' },
      format: ['esm'],
    },
    {
      ...common,
      // No CJS build of /testing: vitest cannot be require()d.
      entry: { index: 'src/index.ts', session: 'src/session/index.ts' },
      format: ['cjs'],
    },
  ];
});
