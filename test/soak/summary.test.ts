import { describe, expect, it } from 'vitest';
import type { HistoryReport } from '../../soak/checks.js';
import type { InstanceFigures, Snapshot } from '../../soak/measure.js';
import { formatSummary, judge, memoryFlat, type SoakFigures } from '../../soak/summary.js';

const MiB = 1024 * 1024;

const instance = (overrides: Partial<InstanceFigures> = {}): InstanceFigures => ({
  rss: 200 * MiB,
  heapUsed: 50 * MiB,
  heapTotal: 60 * MiB,
  external: 4 * MiB,
  arrayBuffers: 1 * MiB,
  httpConnections: 0,
  poolConnections: 10,
  toolRuns: 0,
  warnings: 0,
  errors: 0,
  logged: [],
  ...overrides,
});

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  instances: [instance(), instance()],
  dbConnections: 20,
  idleInTransaction: 0,
  leasesHeld: 0,
  pendingApprovals: 0,
  runsRunning: 0,
  runsAwaiting: 0,
  runsByStatus: { completed: 10 },
  ...overrides,
});

const history: HistoryReport = {
  turnsChecked: 10,
  itemsLost: 0,
  itemsUnexpected: 0,
  chatsOutOfOrder: 0,
  brokenToolCalls: 0,
  counterMismatches: 0,
};

const figures = (overrides: Partial<SoakFigures> = {}): SoakFigures => ({
  minutes: 10,
  bound: '10 min or 100000 requests',
  requests: 100,
  actions: { run: 100 },
  approvals: { approved: 0, rejected: 0 },
  lateCancels: 0,
  slowCancels: 0,
  problems: new Map(),
  start: snapshot(),
  end: snapshot(),
  history,
  peakDbConnections: 20,
  maxDbConnections: 20,
  ...overrides,
});

const failed = (verdicts: ReturnType<typeof judge>) => verdicts.filter((verdict) => !verdict.pass).map((verdict) => verdict.criterion);

describe('the soak summary', () => {
  it('passes figures with nothing lost, nothing stuck and memory flat', () => {
    const verdicts = judge(figures());
    expect(failed(verdicts)).toEqual([]);
    expect(formatSummary(figures(), verdicts)).toMatch(/soak: PASS$/);
  });

  it('calls memory flat up to 8 MiB more heap and 10% or 32 MiB more RSS at rest, and not beyond', () => {
    expect(memoryFlat(instance(), instance({ heapUsed: 58 * MiB, rss: 232 * MiB }))).toBe(true);
    expect(memoryFlat(instance(), instance({ heapUsed: 58 * MiB + 1 }))).toBe(false);
    expect(memoryFlat(instance(), instance({ rss: 232 * MiB + 1 }))).toBe(false);
    // Past 320 MiB, 10% is the larger bound.
    const big = instance({ rss: 400 * MiB });
    expect(memoryFlat(big, instance({ rss: 440 * MiB }))).toBe(true);
    expect(memoryFlat(big, instance({ rss: 440 * MiB + 1 }))).toBe(false);
  });

  it('fails each criterion whose figure is off, and says FAIL', () => {
    const verdicts = judge(
      figures({
        problems: new Map([['follow: hung', 1]]),
        history: { ...history, itemsLost: 2 },
        end: snapshot({ leasesHeld: 1, runsRunning: 1, instances: [instance({ toolRuns: 1 }), instance({ heapUsed: 70 * MiB })] }),
      }),
    );
    expect(failed(verdicts)).toEqual([
      'unexpected answers or hangs',
      'items lost',
      'stuck leases at the end',
      'runs still running at the end',
      'the approval tool ran once per approval',
      'memory flat, instance B',
    ]);
    expect(formatSummary(figures(), verdicts)).toMatch(/soak: FAIL$/);
  });
});
