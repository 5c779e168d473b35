import { ratioOf, type Comparison } from './measure.js';

export interface Row {
  section: string;
  name: string;
  /** What the ratio compares, e.g. "library / raw pg". */
  versus?: string;
  /** The contender's median time per operation. */
  contenderMs?: number;
  /** The baseline's median time per operation. */
  baselineMs?: number;
  /** A figure that is not a time per operation (throughput, a count, MiB...). */
  value?: number;
  /** Unit of `value`, and anything said beside it ("ms p50, 3.1 ms p99"). */
  unit?: string;
  ratio?: number;
  goal?: string;
  met?: boolean;
  note?: string;
}

/**
 * What `npm run bench` writes to bench/results/latest.json (`--quick`: quick.json), and what
 * docs/benchmarks.md's figures are rendered from (`npm run docs:bench`).
 */
export interface Results {
  /** When the run ended, ISO 8601. */
  date: string;
  quick: boolean;
  settings: { warmup: number; rounds: number; batch: number };
  machine: { cpus: string; memory_gb: number; node: string; platform: string; postgres?: string };
  /** The installed version of each peer library, by package name (absent from older files). */
  peers?: Record<string, string>;
  rows: Row[];
}

/** Collects the figures, prints each as it comes, then as one table; serialised as JSON. */
export class Report {
  readonly rows: Row[] = [];

  /** A comparison row: contender / baseline, with the goal "ratio at most (or under) `maxRatio`". */
  ratioRow(
    section: string,
    name: string,
    result: Comparison,
    maxRatio: number | null,
    names: { contender?: string; baseline?: string; strict?: boolean } = {},
  ): Row {
    const contender = names.contender ?? 'library';
    const baseline = names.baseline ?? 'raw pg';
    const ratio = ratioOf(result, contender, baseline);
    const row: Row = {
      section,
      name,
      versus: `${contender} / ${baseline}`,
      contenderMs: result.medianMs[contender],
      baselineMs: result.medianMs[baseline],
      ratio,
      ...(maxRatio === null
        ? {}
        : names.strict
          ? { goal: `< ${maxRatio}`, met: ratio < maxRatio }
          : { goal: `≤ ${maxRatio}`, met: ratio <= maxRatio }),
    };
    this.add(row);
    return row;
  }

  valueRow(
    section: string,
    name: string,
    value: number,
    unit: string,
    goal?: { goal: number | string; met: (value: number) => boolean },
  ): Row {
    const row: Row = { section, name, value, unit, ...(goal ? { goal: String(goal.goal), met: goal.met(value) } : {}) };
    this.add(row);
    return row;
  }

  note(section: string, name: string, note: string): void {
    this.add({ section, name, note });
  }

  add(row: Row): void {
    // A NaN would be written as null and break the page; it is always a bug of the benchmark.
    for (const field of ['contenderMs', 'baselineMs', 'value', 'ratio'] as const) {
      const figure = row[field];
      if (figure !== undefined && !Number.isFinite(figure)) throw new Error(`${row.section} | ${row.name}: ${field} is ${figure}`);
    }
    this.rows.push(row);
    const [measured, baseline, ratio] = cells(row);
    const parts = [measured, baseline && `vs ${baseline}`, ratio && `ratio ${ratio}`].filter(Boolean);
    const goal = row.goal ? ` (goal ${row.goal}: ${row.met ? 'met' : 'NOT met'})` : '';
    console.log(`  ${row.section} | ${row.name}: ${row.note ?? parts.join(', ')}${goal}`);
  }

  table(): string {
    const header = ['section', 'benchmark', 'versus', 'measured', 'baseline', 'ratio', 'goal', 'met'];
    const lines = this.rows.map((row) => {
      const [measured, baseline, ratio] = cells(row);
      return [
        row.section,
        row.name,
        row.versus ?? '',
        row.note ?? measured,
        baseline,
        ratio,
        row.goal ?? '',
        row.met === undefined ? '' : row.met ? 'yes' : '**no**',
      ];
    });
    return [
      `| ${header.join(' | ')} |`,
      `|${header.map(() => '---').join('|')}|`,
      ...lines.map((line) => `| ${line.join(' | ')} |`),
    ].join('\n');
  }
}

/** The measured figure, the baseline figure and the ratio, formatted. */
function cells(row: Row): [string, string, string] {
  const measured =
    row.contenderMs !== undefined
      ? `${row.contenderMs.toFixed(3)} ms`
      : row.value !== undefined
        ? `${formatNumber(row.value)} ${row.unit ?? ''}`.trim()
        : '';
  const baseline = row.baselineMs !== undefined ? `${row.baselineMs.toFixed(3)} ms` : '';
  const ratio = row.ratio !== undefined ? row.ratio.toFixed(2) : '';
  return [measured, baseline, ratio];
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en');
  return value >= 100 ? value.toFixed(0) : value.toFixed(2);
}
