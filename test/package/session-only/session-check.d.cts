// Types of session-check.cjs, for the TypeScript consumer scripts. `lib` is the module imported
// from express-agent-router/session, by either resolution (their class declarations differ).
export declare function checkSession(lib: object, label: string): Promise<void>;
