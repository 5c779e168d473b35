/**
 * Statements whose effect outlives their transaction on the server connection that ran them:
 * session settings, session advisory locks, LISTEN, named prepared statements, cursors WITH
 * HOLD, temporary tables. Through a pooler in transaction mode (PgBouncer) the client's next
 * transaction may run on another server connection, and another client may get this one, so the
 * library must send none of them. Every test database checks what goes through it against this
 * list (test/helpers/database.ts), so that each suite, direct or through PgBouncer, proves it.
 */
const RULES: readonly (readonly [RegExp, string])[] = [
  [/^SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)/i, 'SET without LOCAL changes the session'],
  [/^RESET\b/i, 'RESET changes the session'],
  [/\bset_config\s*\([^)]*,\s*false\s*\)/i, 'set_config(..., false) changes the session'],
  [/\bpg_(?:try_)?advisory_(?:un)?lock(?:_shared|_all)?\s*\(/i, 'a session advisory lock (use pg_advisory_xact_lock)'],
  [/^(?:UN)?LISTEN\b/i, 'LISTEN lasts for the session'],
  [/^(?:PREPARE|EXECUTE|DEALLOCATE)\b/i, 'a named prepared statement lives in the session'],
  [/^DECLARE\b[\s\S]*\bWITH\s+HOLD\b/i, 'a cursor WITH HOLD outlives its transaction'],
  [/^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\b/i, 'a temporary table lives in the session'],
];

/** Why `text` (one or several statements) would not work through a transaction pooler, or undefined. */
export function sessionLevelSql(text: string): string | undefined {
  // Comments and quoted text cannot hold a statement; without them, `;` separates statements.
  const code = text
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/\$\$[\s\S]*?\$\$/g, "''");
  for (const statement of code.split(';')) {
    const trimmed = statement.trim();
    for (const [pattern, reason] of RULES) {
      if (pattern.test(trimmed)) return `${reason}: ${trimmed.replace(/\s+/g, ' ').slice(0, 120)}`;
    }
  }
  return undefined;
}
