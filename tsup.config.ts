import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // Source maps would point at src/, which the package does not ship.
  sourcemap: false,
  target: 'node20',
  outDir: 'dist',
  // Migrations are bundled as text, so the package never has to find them on disk.
  loader: { '.sql': 'text' },
});
