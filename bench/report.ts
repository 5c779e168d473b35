import { ratioOf, type Comparison } from './measure.js';

export interface Row {
  section: string;
  name: string;
  /** What is being compared to what, e.g. "library / raw pg". */
  versus?: string;
  contenderMs?: number;
  baselineMs?: number;
  ratio?: number;
  value?: number;
  unit?: string;
  goal?: string;
  met?: boolean;
  note?: string;
}

/** Collects the figures, prints them as a table and serialises them as JSON. */
export class Report {
  readonly rows: Row[] = [];

  /** A comparison row: contender / baseline, with the goal "ratio at most `maxRatio`". */
  ratioRow(
    section: string,
    name: string,
    result: Comparison,
    maxRatio: number | null,
    names: { contender?: string; baseline?: string } = {},
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
      ...(maxRatio === null ? {} : { goal: `≤ ${maxRatio}`, met: ratio <= maxRatio }),
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
    const row: Row = {
      section,
      name,
      value,
      unit,
      ...(goal ? { goal: String(goal.goal), met: goal.met(value) } : {}),
    };
    this.add(row);
    return row;
  }

  note(section: string, name: string, note: string): void {
    this.add({ section, name, note });
  }

  add(row: Row): void {
    this.rows.push(row);
    console.log(formatRow(row));
  }

  table(): string {
    const header = ['section', 'benchmark', 'versus', 'contender ms', 'baseline ms', 'ratio / value', 'goal', 'met'];
    const lines = this.rows.map((row) => [
      row.section,
      row.name,
      row.versus ?? '',
      row.contenderMs === undefined ? '' : row.contenderMs.toFixed(3),
      row.baselineMs === undefined ? '' : row.baselineMs.toFixed(3),
      row.ratio !== undefined
        ? row.ratio.toFixed(2)
        : row.value !== undefined
          ? `${formatNumber(row.value)} ${row.unit ?? ''}`.trim()
          : (row.note ?? ''),
      row.goal ?? '',
      row.met === undefined ? '' : row.met ? 'yes' : 'NO',
    ]);
    return [
      `| ${header.join(' | ')} |`,
      `|${header.map(() => '---').join('|')}|`,
      ...lines.map((line) => `| ${line.join(' | ')} |`),
    ].join('\n');
  }
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en') : value.toFixed(3);
}

function formatRow(row: Row): string {
  if (row.note) return `  ${row.section} | ${row.name}: ${row.note}`;
  if (row.ratio !== undefined) {
    return `  ${row.section} | ${row.name}: ${row.contenderMs!.toFixed(3)} ms vs ${row.baselineMs!.toFixed(3)} ms, ratio ${row.ratio.toFixed(2)}${row.goal ? ` (goal ${row.goal}: ${row.met ? 'met' : 'NOT met'})` : ''}`;
  }
  return `  ${row.section} | ${row.name}: ${formatNumber(row.value!)} ${row.unit ?? ''}${row.goal ? ` (goal ${row.goal}: ${row.met ? 'met' : 'NOT met'})` : ''}`;
}
