// Builds the React front end (index.html, src/) into dist/, which server.ts serves.
// `npm run example:react` runs it; so does the browser test before it starts the server.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Vite turns the .tsx files' JSX into React calls by itself (the automatic runtime, as
  // tsconfig.json says): the React plugin would only add hot reloading, which a build does not use.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rolldownOptions: {
      // Libraries written for React Server Components start with "use client", which means nothing
      // in a browser bundle: the bundler says it drops it, for every such file.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  logLevel: 'warn',
});
