// The standalone example: PostgresSession with the SDK's run(), no Express. It runs to its end,
// and its second run is sent the first one's conversation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/database.js';
import { databaseUrlFor, runExample } from './example-process.js';

const SCRIPT = 'examples/standalone-session/two-runs.ts';
const REMEMBERED =
  '  agent: You told me earlier: "My name is Ada and I collect old maps." ' +
  '(1 earlier message of this session, read back from the database).';

describe('[pg-mem] standalone-session example', () => {
  it('runs twice on one session, and the second run remembers the first', async () => {
    const { code, stdout, stderr } = await runExample(SCRIPT);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}database {2}pg-mem, an embedded in-memory database/m);
    expect(stdout).toMatch(/^ {2}model {5}offline demo model/m);
    const [, second] = stdout.split(/^Run 2$/m);
    expect(second).toContain('  you:   What do I collect?');
    expect(second).toContain(REMEMBERED);
    expect(stdout).toContain('The session now holds 4 items.');
  }, 60_000);
});

describePostgres('standalone-session example', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { migrate: false });
  });
  afterAll(() => database?.destroy());

  it('keeps the session in PostgreSQL: a second process with the same SESSION_ID goes on from the first', async () => {
    const env = { DATABASE_URL: databaseUrlFor(database.schema!), SESSION_ID: 'my-notes' };
    const first = await runExample(SCRIPT, env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^ {2}database {2}PostgreSQL at postgres:\/\//m);
    expect(first.stdout).toContain('  session   my-notes');
    expect(first.stdout).toContain(REMEMBERED);

    const second = await runExample(SCRIPT, env);
    expect(second.code).toBe(0);
    // Its first run already sees the two turns the other process stored.
    const [, run1] = second.stdout.split(/^Run 1$/m);
    expect(run1).toContain('(2 earlier messages of this session, read back from the database)');
    expect(second.stdout).toContain('The session now holds 8 items.');
  }, 60_000);
});
