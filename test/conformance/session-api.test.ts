import {
  isRunContextAwareSession,
  isSessionHistoryRewriteAwareSession,
  isSessionHistoryTransactionAwareSession,
  MemorySession,
  UserError,
  type AgentInputItem,
  type Session,
  type SessionHistoryRewriteAwareSession,
  type SessionHistoryTransactionAwareSession,
} from '@openai/agents';
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { PostgresSession } from '../../src/session/postgres-session.js';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import {
  basicOnly,
  errorOf,
  memoryBackend,
  playBoth,
  postgresBackend,
  shape,
  user,
  type Backend,
} from './harness.js';

/**
 * The session methods called directly, as the runner (or an app) calls them: both sessions must
 * answer and store alike. The deliberate differences are each named in a test of their own.
 */

type FullSession = Session & SessionHistoryTransactionAwareSession & SessionHistoryRewriteAwareSession;

const assistant = (text: string): AgentInputItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const call = (callId: string, args = '{}'): AgentInputItem => ({
  type: 'function_call',
  callId,
  name: 'lookup',
  arguments: args,
  status: 'completed',
});
const result = (callId: string): AgentInputItem => ({
  type: 'function_call_result',
  callId,
  name: 'lookup',
  status: 'completed',
  output: { type: 'text', text: `result of ${callId}` },
});

describe('ability detection with the SDK type guards', () => {
  // Detection looks at the object only; no query runs, so a database that is never used will do.
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: {} as never }) });
  const sessions: Record<string, Session> = {
    MemorySession: new MemorySession(),
    PostgresSession: new PostgresSession({ db }),
  };

  for (const [name, session] of Object.entries(sessions)) {
    it(`${name} is transaction-aware and rewrite-aware, not run-context-aware`, () => {
      expect(isSessionHistoryTransactionAwareSession(session)).toBe(true);
      expect(isSessionHistoryRewriteAwareSession(session)).toBe(true);
      // PostgresSession leaves it out on purpose: the run context names neither the agent nor
      // the run, which the router passes to the session's constructor instead.
      expect(isRunContextAwareSession(session)).toBe(false);
    });
  }

  it('a session reduced to the five basic methods is detected as such', () => {
    const basic = basicOnly(sessions.PostgresSession!);
    expect(isSessionHistoryTransactionAwareSession(basic)).toBe(false);
    expect(isSessionHistoryRewriteAwareSession(basic)).toBe(false);
  });
});

describePostgres('conformance: session methods called directly', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(() => database.destroy());

  const full = (backend: Backend, conversation?: string) => backend.session(conversation) as FullSession;

  it('applies, replays and refuses history transactions alike', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      const steps: Record<string, unknown> = {};
      const step = async (name: string, fn: (session: FullSession) => unknown) => {
        steps[name] = { error: await errorOf(() => fn(full(backend))), items: shape(await full(backend).getItems()) };
      };
      const append = (operationId: string, items: AgentInputItem[]) => (s: FullSession) =>
        s.applyHistoryTransaction({ operationId, transaction: { type: 'append_items', items } });
      const replace =
        (operationId: string, expectedSuffix: AgentInputItem[], replacement: AgentInputItem[]) =>
        (s: FullSession) =>
          s.applyHistoryTransaction({
            operationId,
            transaction: { type: 'replace_suffix', expectedSuffix, replacement },
          });

      await step('append', append('op-a', [user('u1'), user('u2')]));
      await step('replay the same operation', append('op-a', [user('u1'), user('u2')]));
      await step('reuse the id for another transaction', append('op-a', [user('other')]));
      // Key order differs from the stored item: compared structurally.
      await step(
        'replace a matching suffix',
        replace('op-b', [{ content: 'u2', role: 'user', type: 'message' }], [user('u2'), assistant('a1')]),
      );
      await step('replace a suffix that is not the tail', replace('op-c', [user('u1')], [user('x')]));
      await step(
        'replace a suffix longer than the history',
        replace('op-d', [user('u0'), user('u1'), user('u2'), assistant('a1')], []),
      );
      await step('replace an empty suffix (appends)', replace('op-e', [], [user('u3')]));
      // Its suffix no longer matches, but the id is known: a no-op, not an error.
      await step(
        'replay an applied replace after the history moved on',
        replace('op-b', [{ content: 'u2', role: 'user', type: 'message' }], [user('u2'), assistant('a1')]),
      );
      await step('replace the tail with nothing (removes it)', replace('op-f', [user('u3')], []));
      await step('items with U+0000 and lone surrogates', append('op-g', [user('nul \u0000'), user('lone \ud800')]));
      await step(
        'a suffix with U+0000 and lone surrogates matches',
        replace('op-h', [user('nul \u0000'), user('lone \ud800')], [user('clean')]),
      );
      await step('an item that is not a ModelItem', append('op-i', [{ type: 'bogus' } as never]));
      await step('a function inside an item', append('op-j', [{ ...user('f'), providerData: { f: () => 1 } } as never]));
      await step('an empty operation id', append('  ', [user('x')]));
      await step('no arguments', (s) => s.applyHistoryTransaction(null as never));
      await step('an unknown transaction type', (s) =>
        s.applyHistoryTransaction({ operationId: 'op-k', transaction: { type: 'truncate' } as never }),
      );
      await step('an extra transaction field', (s) =>
        s.applyHistoryTransaction({
          operationId: 'op-l',
          transaction: { type: 'append_items', items: [], note: 'x' } as never,
        }),
      );
      await step('an empty append is recorded', append('op-m', []));
      await step('popItem after transactions', async (s) => s.popItem());
      await step('clearSession forgets the applied operations', (s) => s.clearSession());
      await step('so the first operation applies again', append('op-a', [user('u1'), user('u2')]));
      await step('a non-empty suffix on a session never written', (s) =>
        full(backend, 'fresh').applyHistoryTransaction({
          operationId: 'op-n',
          transaction: { type: 'replace_suffix', expectedSuffix: [user('u1')], replacement: [] },
        }),
      );
      const fresh = shape(await full(backend, 'fresh').getItems());
      return { stored: await full(backend).getItems(), inputs: [], steps, fresh };
    });

    const steps = memory.steps as Record<string, { error?: { name: string; message: string }; items: string[] }>;
    const errors = Object.fromEntries(
      Object.entries(steps).map(([name, { error }]) => [name, error && `${error.name}: ${error.message}`]),
    );
    expect(errors).toEqual({
      append: undefined,
      'replay the same operation': undefined,
      'reuse the id for another transaction':
        'UserError: Session history operation was already applied with a different transaction.',
      'replace a matching suffix': undefined,
      'replace a suffix that is not the tail':
        'UserError: Session history suffix no longer matches the transaction precondition.',
      'replace a suffix longer than the history':
        'UserError: Session history suffix no longer matches the transaction precondition.',
      'replace an empty suffix (appends)': undefined,
      'replay an applied replace after the history moved on': undefined,
      'replace the tail with nothing (removes it)': undefined,
      'items with U+0000 and lone surrogates': undefined,
      'a suffix with U+0000 and lone surrogates matches': undefined,
      'an item that is not a ModelItem':
        'UserError: Session history transaction items contain invalid or unsupported data.',
      'a function inside an item':
        'UserError: Session history transaction items contain invalid or unsupported data.',
      'an empty operation id': 'UserError: Session history transaction operationId must be a non-empty string.',
      'no arguments': 'UserError: Session history transaction arguments are invalid.',
      'an unknown transaction type': 'UserError: Unsupported session history transaction type.',
      'an extra transaction field': 'UserError: Session history append transaction fields are invalid.',
      'an empty append is recorded': undefined,
      'popItem after transactions': undefined,
      'clearSession forgets the applied operations': undefined,
      'so the first operation applies again': undefined,
      'a non-empty suffix on a session never written':
        'UserError: Session history suffix no longer matches the transaction precondition.',
    });
    expect(steps['replay the same operation']!.items).toEqual(['user: u1', 'user: u2']);
    expect(steps['reuse the id for another transaction']!.items).toEqual(['user: u1', 'user: u2']);
    expect(steps['replace a matching suffix']!.items).toEqual(['user: u1', 'user: u2', 'assistant: a1']);
    expect(steps['replace a suffix that is not the tail']!.items).toEqual(steps['replace a matching suffix']!.items);
    expect(steps['replay an applied replace after the history moved on']!.items).toEqual([
      'user: u1',
      'user: u2',
      'assistant: a1',
      'user: u3',
    ]);
    expect(steps['a suffix with U+0000 and lone surrogates matches']!.items.at(-1)).toBe('user: clean');
    expect(steps['popItem after transactions']!.items).toEqual(['user: u1', 'user: u2', 'assistant: a1']);
    expect(shape(memory.stored)).toEqual(['user: u1', 'user: u2']);
    expect(memory.fresh).toEqual([]);
  });

  it('applies replace_function_call mutations alike (applyHistoryMutations)', async () => {
    const { memory } = await playBoth(database.db, async (backend) => {
      await full(backend).addItems([
        user('q'),
        call('c1'),
        result('c1'),
        call('c1', '{"duplicate":true}'),
        // Text that only looks like an escape, and (c3) a real U+0000, which PostgresSession
        // stores in its wrapped form (see item-codec.ts): found by decoding.
        call('c2', '{"q":"nul \\u0000"}'),
        call('c3', '{"q":"nul \u0000"}'),
        assistant('done'),
      ]);
      await full(backend).applyHistoryMutations({ mutations: [] });
      await full(backend).applyHistoryMutations({
        mutations: [
          { type: 'replace_function_call', callId: 'c1', replacement: call('c1', '{"fixed":1}') as never },
          { type: 'replace_function_call', callId: 'c3', replacement: call('c3', '{"fixed":3}') as never },
          { type: 'replace_function_call', callId: 'missing', replacement: call('missing') as never },
        ],
      });
      // A session never written: nothing to rewrite, nothing created.
      await full(backend, 'empty').applyHistoryMutations({
        mutations: [{ type: 'replace_function_call', callId: 'c1', replacement: call('c1') as never }],
      });
      return {
        stored: await full(backend).getItems(),
        inputs: [],
        empty: await full(backend, 'empty').getItems(),
      };
    });
    expect(memory.stored.map((item) => (item as { arguments?: string }).arguments ?? shape([item])[0])).toEqual([
      'user: q',
      '{"fixed":1}',
      'function_call_result lookup#c1',
      '{"q":"nul \\u0000"}',
      '{"fixed":3}',
      'assistant: done',
    ]);
    expect(memory.empty).toEqual([]);
  });

  describe('deliberate differences from MemorySession', () => {
    const both = async (fn: (session: FullSession) => unknown) => {
      const memory = memoryBackend();
      const postgres = postgresBackend(database.db);
      for (const backend of [memory, postgres]) {
        await full(backend).addItems([user('a'), user('b'), user('c'), user('d')]);
      }
      let memoryResult: unknown;
      const memoryError = await errorOf(async () => {
        memoryResult = await fn(full(memory));
      });
      return {
        memory: memoryResult,
        memoryError,
        memoryItems: shape(await full(memory).getItems()),
        postgres: await errorOf(() => fn(full(postgres))),
        postgresItems: shape(await full(postgres).getItems()),
      };
    };

    it('getItems refuses a limit that is not an integer, where MemorySession slices with it', async () => {
      const fractional = await both((s) => s.getItems(2.5));
      expect(shape(fractional.memory as AgentInputItem[])).toEqual(['user: b', 'user: c', 'user: d']);
      expect(fractional.postgres).toMatchObject({ name: InvalidArgumentError.name, message: /must be an integer/ });

      const nan = await both((s) => s.getItems(Number.NaN));
      expect(nan.memory).toHaveLength(4);
      expect(nan.postgres).toMatchObject({ name: InvalidArgumentError.name });
    });

    it('applyHistoryMutations refuses a mutation type it does not know, where MemorySession ignores it', async () => {
      const outcome = await both((s) =>
        s.applyHistoryMutations({ mutations: [{ type: 'drop_everything', callId: 'x' } as never] }),
      );
      expect(outcome.memoryError).toBeUndefined();
      expect(outcome.postgres).toMatchObject({ name: InvalidArgumentError.name, message: /drop_everything/ });
      expect(outcome.postgresItems).toHaveLength(4);

      // A malformed call: MemorySession fails on it with a TypeError of its own making.
      const malformed = await both((s) => s.applyHistoryMutations({} as never));
      expect(malformed.memoryError).toMatchObject({ name: 'TypeError' });
      expect(malformed.postgres).toMatchObject({ name: InvalidArgumentError.name, message: /must be an array/ });
    });

    it('applyHistoryTransaction refuses values JSON cannot hold exactly, and ids the id column cannot hold', async () => {
      const nan = await both((s) =>
        s.applyHistoryTransaction({
          operationId: 'op-nan',
          transaction: { type: 'append_items', items: [{ ...user('x'), providerData: { score: Number.NaN } }] },
        }),
      );
      expect(nan.memoryError).toBeUndefined();
      expect(nan.memoryItems).toHaveLength(5);
      expect(nan.postgres).toMatchObject({ name: InvalidArgumentError.name, message: /NaN/ });
      expect(nan.postgresItems).toHaveLength(4);

      const bytes = await both((s) =>
        s.applyHistoryTransaction({
          operationId: 'op-bytes',
          transaction: { type: 'append_items', items: [{ ...user('x'), providerData: { raw: new Uint8Array([1, 2]) } }] },
        }),
      );
      expect(bytes.memoryError).toBeUndefined();
      expect(bytes.memoryItems).toHaveLength(5);
      expect(bytes.postgres).toMatchObject({ name: InvalidArgumentError.name, message: /binary data/ });
      expect(bytes.postgresItems).toHaveLength(4);

      for (const [operationId, message] of [
        ['o'.repeat(256), /at most 255/],
        ['op-\u0000', /U\+0000/],
      ] as const) {
        const outcome = await both((s) =>
          s.applyHistoryTransaction({ operationId, transaction: { type: 'append_items', items: [user('x')] } }),
        );
        expect(outcome.memoryError).toBeUndefined();
        expect(outcome.memoryItems).toHaveLength(5);
        expect(outcome.postgres).toMatchObject({ name: InvalidArgumentError.name, message });
        expect(outcome.postgresItems).toHaveLength(4);
      }
    });

    it('throws the SDK UserError class (not a copy) where MemorySession throws', async () => {
      const postgres = full(postgresBackend(database.db));
      await expect(
        postgres.applyHistoryTransaction({
          operationId: 'op',
          transaction: { type: 'replace_suffix', expectedSuffix: [user('nope')], replacement: [] },
        }),
      ).rejects.toBeInstanceOf(UserError);
    });
  });
});
