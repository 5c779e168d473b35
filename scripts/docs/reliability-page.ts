import type { ReliabilityResults } from '../../test/reliability/summary.js';

/**
 * The figures of docs/reliability.md, rendered from what the reliability suite wrote to
 * test/reliability/results/latest.json. The test labels and figure names are those the tests
 * pass to `recordFigures` (test/reliability/*.test.ts); a figure the file lacks is an error, not
 * a blank.
 */
export function reliabilityBlocks(results: ReliabilityResults): Record<string, string> {
  const figure = (test: string, name: string): number => {
    const value = results.tests.find((entry) => entry.test === test)?.figures[name];
    if (value === undefined) throw new Error(`test/reliability/results/latest.json has no figure "${name}" for "${test}".`);
    return value;
  };
  const n = (test: string, name: string) => figure(test, name).toLocaleString('en');

  const underLoad = (test: string) => {
    const busy = figure(test, '409 session_busy');
    return [
      `${n(test, 'requests sent')} requests: ${n(test, 'successes')} successes`,
      busy > 0 ? `, ${busy.toLocaleString('en')} × 409` : '',
      `, ${n(test, '503 in the fault window')} × 503 (slowest ${n(test, 'slowest answer in the window (ms)')} ms)`,
      `; items lost ${n(test, 'items lost (must be 0)')}`,
    ].join('');
  };
  const two = 'two instances, one database';
  const killed = 'an instance killed with SIGKILL mid-run';
  const drained = figure('graceful shutdown on SIGTERM', 'runs finished while draining');
  const followed = 'followers of a run whose instance was SIGKILLed';
  const restarted = 'PostgreSQL restarted under a followed stream';
  const outage = 'cancel during a database outage';
  const approval = 'approval decided after its instance restarted';
  const contended = '20 decisions and a cancel on one waiting run';
  const fuzz = 'hostile input: runs, approvals, AI SDK, state, memories';
  const focused = 'hostile input: focused properties on the new endpoints';
  /** The sum of a test's `cases: ...` figures (one per endpoint family, or per property). */
  const cases = (test: string) =>
    Object.entries(results.tests.find((entry) => entry.test === test)?.figures ?? {})
      .filter(([name]) => name.startsWith('cases: '))
      .reduce((sum, [, count]) => sum + count, 0);
  const matrix = 'isolation: runs, approvals, AI SDK, state, memories';
  const lines: [string, string][] = [
    [
      two,
      `${n(two, 'requests sent')} requests: ${n(two, 'successes')} successes, ${n(two, '409 session_busy')} × 409; ` +
        `${n(two, 'turns checked')} turns checked; items lost ${n(two, 'items lost (must be 0)')}`,
    ],
    ['pg_terminate_backend under load', underLoad('pg_terminate_backend under load')],
    ['PostgreSQL restarted under load', underLoad('PostgreSQL restarted under load')],
    [
      'instance killed with SIGKILL',
      `${n(killed, 'runs in flight when it died')} runs in flight: ${n(killed, 'sessions taken over')} chats taken over, ` +
        `${n(killed, 'dead runs closed as run_expired')} runs closed as run_expired, ${n(killed, 'runs left running (must be 0)')} left running`,
    ],
    [
      'graceful shutdown on SIGTERM',
      `${drained === 1 ? 'the run in flight finished and was stored' : `${drained} runs in flight finished and were stored`}; ` +
        `exit code ${n('graceful shutdown on SIGTERM', 'exit code')}`,
    ],
    [
      'followers, instance SIGKILLed',
      `${n(followed, 'followers on the other instance')} followers of ${n(followed, 'runs in flight when it died')} runs: ` +
        `${n(followed, 'ended with run_expired')} ended with run_expired, ${n(followed, 'hung (must be 0)')} hung, ` +
        `${n(followed, 'gaps or duplicate ids (must be 0)')} gaps or repeats`,
    ],
    [
      'PostgreSQL restarted, followed',
      `${n(restarted, 'followers (on its instance and on another)')} followers of ${n(restarted, 'streamed runs in flight')} runs, ` +
        `${n(restarted, 'events the followers got')} events: ${n(restarted, 'gaps (must be 0)')} gaps, ` +
        `${n(restarted, 'duplicate ids (must be 0)')} duplicates, ${n(restarted, 'followers ending on one terminal event')} ended on a terminal event`,
    ],
    [
      'cancel during an outage',
      `${n(outage, 'cancels sent during the outage')} cancels: ${n(outage, '503 database_unavailable with the envelope')} × 503 with the envelope; ` +
        `after recovery ${n(outage, 'answered 200 cancelled')} × 200 cancelled`,
    ],
    [
      'approval after a restart',
      `${n(approval, 'runs waiting when the instance died')} waiting runs: ${n(approval, 'resumed and completed on the new process')} resumed on the new process, ` +
        `${n(approval, 'tool runs (must equal the runs)')} tool runs, ${n(approval, 'runs whose tool ran more than once (must be 0)')} twice`,
    ],
    [
      '20 decisions and a cancel',
      `${n(contended, 'rounds played')} rounds: ${n(contended, 'won by a decision (completed)')} won by a decision, ${n(contended, 'won by the cancel')} by the cancel, ` +
        `${n(contended, 'rounds without exactly one outcome (must be 0)')} without exactly one outcome;`,
    ],
    [
      '',
      `${n(contended, 'tool runs')} tool runs, ${n(contended, 'tool run twice, or not by a completed run (must be 0)')} twice; ` +
        `${n(contended, 'tool calls without an output (must be 0)')} tool calls without an output`,
    ],
    [
      'hostile input',
      `${n('hostile input: every endpoint', 'fuzz cases tried')} fuzz cases, ${n('hostile input: every endpoint', 'answers ≥ 500 (must be 0)')} answers ≥ 500; ` +
        `${n('hostile input: oversized bodies', 'bodies over the limit')} oversized bodies, ${n('hostile input: oversized bodies', 'answered 413 payload_too_large')} × 413;`,
    ],
    [
      '',
      `${n('hostile input: ids in paths', 'invalid ids tried')} invalid ids, ${n('hostile input: ids in paths', 'statements they reached (must be 0)')} SQL statements reached; ` +
        `${n('hostile input: text stored verbatim', 'strings round-tripped')} strings round-tripped verbatim`,
    ],
    [
      'hostile input, new endpoints',
      `${cases(fuzz).toLocaleString('en')} fuzz cases (${n(fuzz, 'cases: follow')} follow, ${n(fuzz, 'cases: cancel')} cancel, ` +
        `${n(fuzz, 'cases: background runs')} background, ${n(fuzz, 'cases: decisions')} decision, ${n(fuzz, 'cases: AI SDK')} AI SDK,`,
    ],
    [
      '',
      `${n(fuzz, 'cases: state')} state, ${n(fuzz, 'cases: memories')} memory, ${n(fuzz, 'cases: run record')} run record): ` +
        `${n(fuzz, 'answers ≥ 500 or failed runs (must be 0)')} answers ≥ 500 or failed runs, ${n(fuzz, 'hangs (must be 0)')} hangs, ` +
        `${n(fuzz, 'changes to another user’s data (must be 0)')} changes to another user's data;`,
    ],
    [
      '',
      `${cases(focused).toLocaleString('en')} focused cases (follow replays, decisions, AI SDK answers, merge patches), ` +
        `${n(focused, 'faults or changes to another user’s data (must be 0)')} faults`,
    ],
    [
      'isolation',
      `${n('isolation: user B against user A', 'endpoints tried on A’s chat')} endpoints on A's chat, ` +
        `${n('isolation: user B against user A', 'answers revealing A’s chat (must be 0)')} answers revealing it; ` +
        `getUserId throwing: ${n('isolation: getUserId throws', 'endpoints tried')} endpoints, ${n('isolation: getUserId throws', 'answers with detail or access (must be 0)')} leaks`,
    ],
    [
      'isolation, new endpoints',
      `${n(matrix, 'matrix cells (endpoint × state of A’s run)')} cells (endpoints × A's run running, waiting, finished), ` +
        `${n(matrix, 'answers differing from a missing one’s (must be 0)')} answers unlike a missing one's;`,
    ],
    [
      '',
      `${n(matrix, 'A’s memories shown to B (must be 0)')} of A's memories shown to B, ${n(matrix, 'changes to A’s data (must be 0)')} changes to A's data`,
    ],
  ];
  return {
    summary: [
      `Figures from the last run of the suite, ${results.date.slice(0, 10)}:`,
      '',
      '```',
      ...lines.map(([label, text]) => `${label.padEnd(34)}${text}`),
      '```',
    ].join('\n'),
  };
}
