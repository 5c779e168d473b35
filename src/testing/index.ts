// The public API of express-agent-router/testing: test suites a host runs on its own
// implementations, with vitest (an optional peer). ESM only, as vitest is; the main entry never
// imports this one, so apps do not load vitest.

export { chatStoreContract } from './chat-store-contract.js';
export type { ChatStoreContractSubject } from './chat-store-contract.js';
