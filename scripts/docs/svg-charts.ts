/**
 * The three kinds of chart docs/benchmarks.md shows, as plain SVG text: a few dozen lines each
 * are simpler to keep than a charting dependency, and the output is stable, so a test can compare
 * a chart with what its results file renders.
 */

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"';

export interface Series {
  name: string;
  /** One value per category; null where the run has no figure. */
  values: (number | null)[];
}

/** A line per series over evenly spaced categories, on a logarithmic value axis. */
export function lineChart(title: string, categories: string[], series: Series[], unit: string): string {
  const [width, height, left, right, top, bottom] = [700, 350, 60, 240, 54, 50];
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const axis = logAxis(values);
  const x = (i: number) => left + (categories.length === 1 ? 0 : (i * (width - left - right)) / (categories.length - 1));
  const y = (v: number) => top + (height - top - bottom) * (1 - axis.position(v));
  const parts = [
    ...axis.ticks.map(
      (tick) =>
        `<line x1="${left}" x2="${width - right}" y1="${round(y(tick))}" y2="${round(y(tick))}" stroke="#e5e7eb"/>` +
        `<text x="${left - 6}" y="${round(y(tick) + 4)}" text-anchor="end">${number(tick)}</text>`,
    ),
    ...categories.map((label, i) => `<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle">${escape(label)}</text>`),
    `<text x="${left - 44}" y="${top - 14}">${escape(unit)} (log scale)</text>`,
  ];
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const points = s.values.map((v, i) => (v === null ? null : [x(i), y(v)] as const)).filter((p) => p !== null);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([px, py]) => `${round(px)},${round(py)}`).join(' ')}"/>`);
    for (const [px, py] of points) parts.push(`<circle cx="${round(px)}" cy="${round(py)}" r="3.5" fill="${color}"/>`);
    parts.push(legend(width - right + 16, top + 10 + k * 20, color, s.name));
  });
  return svg(width, height, title, parts);
}

/** Horizontal bars, one group per category and one bar per series, on a logarithmic axis. */
export function groupedBarChart(title: string, categories: string[], series: Series[], unit: string): string {
  const bar = 14;
  const group = series.length * bar + 16;
  const [left, right, top] = [240, 60, 50];
  const width = 760;
  const height = top + categories.length * group + 30;
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const axis = logAxis(values);
  const x = (v: number) => left + (width - left - right) * axis.position(v);
  const parts = [
    ...verticalGrid(axis.ticks, x, top, height),
    `<text x="${left - 12}" y="${height - 8}" text-anchor="end">${escape(unit)}</text>`,
    ...legends(left, 30, series),
  ];
  categories.forEach((label, i) => {
    const y0 = top + i * group;
    parts.push(`<text x="${left - 8}" y="${y0 + (series.length * bar) / 2 + 4}" text-anchor="end">${escape(label)}</text>`);
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined || v <= 0) return;
      const y = y0 + k * bar;
      parts.push(
        `<rect x="${left}" y="${y}" width="${round(Math.max(1, x(v) - left))}" height="${bar - 2}" fill="${COLORS[k % COLORS.length]}"/>` +
          `<text x="${round(x(v) + 4)}" y="${y + bar - 4}" font-size="10">${number(v)}</text>`,
      );
    });
  });
  return svg(width, height, title, parts);
}

/** One horizontal bar per category, made of one segment per series (stacked), on a linear axis. */
export function stackedBarChart(title: string, categories: string[], series: Series[], unit: string, totals: string[]): string {
  const bar = 26;
  const [left, right, top, width] = [90, 130, 56, 720];
  const height = top + categories.length * (bar + 14) + 34;
  const sums = categories.map((_, i) => series.reduce((sum, s) => sum + Math.max(0, s.values[i] ?? 0), 0));
  const max = niceCeiling(Math.max(...sums));
  const x = (v: number) => left + ((width - left - right) * v) / max;
  const ticks = Array.from({ length: 6 }, (_, k) => (k * max) / 5);
  const parts = [
    ...verticalGrid(ticks, x, top, height),
    `<text x="${width - right + 24}" y="${height - 8}">${escape(unit)}</text>`,
    ...legends(left, 30, series),
  ];
  categories.forEach((label, i) => {
    const y = top + i * (bar + 14);
    parts.push(`<text x="${left - 8}" y="${y + bar / 2 + 4}" text-anchor="end">${escape(label)}</text>`);
    let at = 0;
    series.forEach((s, k) => {
      const v = Math.max(0, s.values[i] ?? 0);
      if (v > 0) parts.push(`<rect x="${round(x(at))}" y="${y}" width="${round(x(at + v) - x(at))}" height="${bar}" fill="${COLORS[k % COLORS.length]}"/>`);
      at += v;
    });
    parts.push(`<text x="${round(x(at) + 6)}" y="${y + bar / 2 + 4}">${escape(totals[i] ?? '')}</text>`);
  });
  return svg(width, height, title, parts);
}

/** A vertical grid line and its label for each tick of a horizontal axis. */
function verticalGrid(ticks: number[], x: (v: number) => number, top: number, height: number): string[] {
  return ticks.map(
    (tick) =>
      `<line x1="${round(x(tick))}" x2="${round(x(tick))}" y1="${top - 6}" y2="${height - 24}" stroke="#e5e7eb"/>` +
      `<text x="${round(x(tick))}" y="${height - 8}" text-anchor="middle">${number(tick)}</text>`,
  );
}

function svg(width: number, height: number, title: string, parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} fill="#111827">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** The series' legends on one line, each as wide as its name. */
function legends(x: number, y: number, series: Series[]): string[] {
  let at = x;
  return series.map((s, k) => {
    const entry = legend(at, y, COLORS[k % COLORS.length]!, s.name);
    at += 30 + 7 * s.name.length;
    return entry;
  });
}

function legend(x: number, y: number, color: string, name: string): string {
  return `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${color}"/><text x="${x + 14}" y="${y}">${escape(name)}</text>`;
}

/** Decades that hold every value, and where a value sits between the first and the last (0..1). */
function logAxis(values: number[]) {
  const low = Math.floor(Math.log10(Math.min(...values, 1)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values, 1))));
  const ticks = Array.from({ length: high - low + 1 }, (_, k) => 10 ** (low + k));
  return { ticks, position: (v: number) => (Math.log10(v) - low) / (high - low) };
}

function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * step).find((candidate) => candidate >= value)!;
}

function number(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en');
  if (value >= 10) return value.toFixed(1).replace(/\.0$/, '');
  if (value >= 1) return value.toFixed(2).replace(/\.?0+$/, '');
  return String(Number(value.toPrecision(2)));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
