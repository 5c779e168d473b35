import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    {
      // The same as tsup's `loader: { '.sql': 'text' }`: import a .sql file as its text.
      name: 'sql-as-text',
      transform(code, id) {
        if (id.endsWith('.sql')) return { code: `export default ${JSON.stringify(code)};`, map: null };
        return undefined;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/reliability/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Test files share one PostgreSQL server; each works in its own schema (test/helpers/database.ts).
    fileParallelism: true,
    maxWorkers: 2,
  },
});
