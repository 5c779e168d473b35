// SQL files are bundled as text (tsup's `loader`, and a small plugin in vitest.config.ts), so the
// package applies its migrations without locating files on disk at run time.
declare module '*.sql' {
  const text: string;
  export default text;
}
