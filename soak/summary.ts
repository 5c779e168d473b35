import type { HistoryReport } from './checks.js';
import type { InstanceFigures, Snapshot } from './measure.js';

/** What the soak hands to the judge: figures at rest after the warm-up and after the traffic. */
export interface SoakFigures {
  /** How long the traffic went on, and what bounded it. */
  minutes: number;
  bound: string;
  requests: number;
  actions: Record<string, number>;
  approvals: { approved: number; rejected: number };
  lateCancels: number;
  slowCancels: number;
  problems: Map<string, number>;
  start: Snapshot;
  end: Snapshot;
  history: HistoryReport;
  /** The most connections the database had at once, and the pools' bound. */
  peakDbConnections: number;
  maxDbConnections: number;
}

export interface Verdict {
  criterion: string;
  value: string;
  pass: boolean;
}

const MiB = 1024 * 1024;

/**
 * Memory is flat when, at rest (after the traffic and a full GC), an instance's heap in use is
 * within 8 MiB of what it was at rest after the warm-up, and its RSS within 10% or 32 MiB of it,
 * whichever is more. The heap is the leak detector: a leak of a few KiB per run would exceed its
 * bound over the thousands of runs of ten minutes. RSS gets room for what V8 and the allocator
 * keep or give back at will: an idle instance's RSS after a GC was seen at 170 MiB and at 204 MiB
 * in the same state, the size of the young generation (two 16 MiB semi-spaces) apart.
 */
export function memoryFlat(start: InstanceFigures, end: InstanceFigures): boolean {
  return end.heapUsed - start.heapUsed <= 8 * MiB && end.rss - start.rss <= Math.max(start.rss * 0.1, 32 * MiB);
}

/** Every criterion of the soak, with its figure and whether it passed. */
export function judge(figures: SoakFigures): Verdict[] {
  const { start, end, history } = figures;
  const zero = (criterion: string, value: number): Verdict => ({ criterion, value: String(value), pass: value === 0 });
  const problems = [...figures.problems.values()].reduce((sum, count) => sum + count, 0);
  const toolRuns = end.instances.reduce((sum, instance) => sum + instance.toolRuns, 0);
  const logged = end.instances.reduce((sum, instance) => sum + instance.errors, 0);
  return [
    zero('unexpected answers or hangs', problems),
    zero('items lost', history.itemsLost),
    zero('items stored for no turn', history.itemsUnexpected),
    zero('chats with turns out of order', history.chatsOutOfOrder),
    zero('tool calls without their output', history.brokenToolCalls),
    zero('chats whose item_count is wrong', history.counterMismatches),
    zero('stuck leases at the end', end.leasesHeld),
    zero('runs still running at the end', end.runsRunning),
    zero('runs left awaiting approval', end.runsAwaiting + end.pendingApprovals),
    {
      criterion: 'the approval tool ran once per approval',
      value: `${toolRuns} runs, ${figures.approvals.approved} approvals`,
      pass: toolRuns === figures.approvals.approved,
    },
    zero('errors the routers logged', logged),
    zero('connections idle in a transaction at the end', end.idleInTransaction),
    {
      criterion: 'database connections within the pools',
      value: `peak ${figures.peakDbConnections}, end ${end.dbConnections}, bound ${figures.maxDbConnections}`,
      pass: figures.peakDbConnections <= figures.maxDbConnections && end.dbConnections <= figures.maxDbConnections,
    },
    ...end.instances.map((instance, index) => ({
      criterion: `memory flat, instance ${'AB'[index]}`,
      value: `heap ${signedMiB(instance.heapUsed - start.instances[index]!.heapUsed)}, RSS ${percent(instance.rss, start.instances[index]!.rss)}`,
      pass: memoryFlat(start.instances[index]!, instance),
    })),
  ];
}

/** The printed summary: the traffic, the figures at rest at the start and the end, the verdicts. */
export function formatSummary(figures: SoakFigures, verdicts: Verdict[]): string {
  const { start, end } = figures;
  const actions = Object.entries(figures.actions)
    .map(([action, count]) => `${count} ${action}`)
    .join(', ');
  const lines = [
    `soak: ${figures.minutes.toFixed(1)} min of traffic (bound: ${figures.bound}), ${figures.requests} requests (${actions})`,
    `      ${figures.history.turnsChecked} turns checked (the counts include the warm-up)`,
    `      approvals: ${figures.approvals.approved} approved, ${figures.approvals.rejected} rejected`,
    `      cancels: ${figures.lateCancels} came after the run finished, ${figures.slowCancels} answered 202 (still stopping after 3 s)`,
    '',
    table(
      ['at rest', 'start', 'end'],
      [
        ...start.instances.flatMap((instance, index) => {
          const last = end.instances[index]!;
          const name = `instance ${'AB'[index]}`;
          return [
            [`${name} RSS`, mib(instance.rss), mib(last.rss)],
            [`${name} heap used / total`, `${mib(instance.heapUsed)} / ${mib(instance.heapTotal)}`, `${mib(last.heapUsed)} / ${mib(last.heapTotal)}`],
            [`${name} external / array buffers`, `${mib(instance.external)} / ${mib(instance.arrayBuffers)}`, `${mib(last.external)} / ${mib(last.arrayBuffers)}`],
            [`${name} pool / HTTP connections`, `${instance.poolConnections} / ${instance.httpConnections}`, `${last.poolConnections} / ${last.httpConnections}`],
          ];
        }),
        ['database connections', String(start.dbConnections), String(end.dbConnections)],
        ['leases held', String(start.leasesHeld), String(end.leasesHeld)],
        ['runs running / awaiting approval', `${start.runsRunning} / ${start.runsAwaiting}`, `${end.runsRunning} / ${end.runsAwaiting}`],
        ['runs by status', statuses(start.runsByStatus), statuses(end.runsByStatus)],
      ],
    ),
    '',
    table(
      ['criterion', 'figure', 'result'],
      verdicts.map((verdict) => [verdict.criterion, verdict.value, verdict.pass ? 'PASS' : 'FAIL']),
    ),
  ];
  for (const [what, count] of figures.problems) lines.push(`  ${count} × ${what}`);
  lines.push('', verdicts.every((verdict) => verdict.pass) ? 'soak: PASS' : 'soak: FAIL');
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const signedMiB = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
const percent = (end: number, start: number) => `${end >= start ? '+' : ''}${(((end - start) / start) * 100).toFixed(1)}%`;
const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort()
    .map(([status, count]) => `${status} ${count}`)
    .join(', ') || 'none';
