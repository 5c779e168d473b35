import type { Results, Row } from '../../bench/report.js';
import { groupedBarChart, lineChart, stackedBarChart } from './svg-charts.js';

/**
 * The figures of docs/benchmarks.md, rendered from what `npm run bench` wrote to
 * bench/results/latest.json. The rows are those the sections of bench/sections/ report; each
 * block below knows the rows its table is made of, and any other row of its section is listed
 * under the table, so a new benchmark shows up on the page without a change here.
 */
export function benchmarksBlocks(results: Results, pinnedPeers: Record<string, string>): Record<string, string> {
  if (results.quick) throw new Error('A quick run is not the source of the docs: run `npm run bench`.');
  const sections = new Set(results.rows.map((row) => row.section));
  const known = ['session', 'peers', 'http', 'cpu', 'floor', 'profile', 'growth', 'memory', 'durability', 'scale', 'metrics', 'memories'];
  const unknown = [...sections].filter((section) => !known.includes(section));
  if (unknown.length > 0) throw new Error(`No block of docs/benchmarks.md shows the section(s) ${unknown.join(', ')}.`);
  const charts = benchmarksCharts(results);
  const chart = (file: string, alt: string) => (charts[`docs/${file}`] ? `![${alt}](${file})` : '');
  const section = (name: string) => results.rows.filter((row) => row.section === name);
  return {
    run: runBlock(results),
    session: sessionBlock(results.rows.filter((row) => row.section === 'session')),
    peers: [peersBlock(section('peers'), results.peers ?? pinnedPeers), chart(PEERS_CHART, 'The library beside its peers, ms per operation')]
      .filter(Boolean)
      .join('\n\n'),
    http: httpBlock(section('http')),
    cpu: cpuBlock(section('cpu'), section('http')),
    floor: [floorBlock(section('floor')), chart(FLOOR_CHART, '/run p50 as HTTP floor + SDK floor + SQL floor + the library')].filter(Boolean).join('\n\n'),
    profile: profileBlock(section('profile')),
    growth: [
      chart(HISTORY_CHART, '/run latency against history size, with and without historyLimit'),
      growthBlock(results.rows.filter((row) => row.section === 'growth' || row.section === 'memory')),
    ]
      .filter(Boolean)
      .join('\n\n'),
    durability: listBlock(section('durability')),
    scale: listBlock(section('scale')),
    'memories-metrics': memoriesMetricsBlock(results.rows.filter((row) => row.section === 'metrics' || row.section === 'memories')),
  };
}

/** agentMetrics and recall, one line each; a run from before the section says so. */
function memoriesMetricsBlock(rows: Row[]): string {
  return listBlock(rows);
}

const NOT_MEASURED = 'Not measured by the last full run (it predates this section): the next `npm run bench` writes these figures.';

/** A section's rows, one line each; a run from before the section says so. */
function listBlock(rows: Row[]): string {
  return rows.length === 0 ? NOT_MEASURED : others(rows, new Set());
}

const PEERS_CHART = 'benchmarks/peers.svg';
const FLOOR_CHART = 'benchmarks/floor.svg';
const HISTORY_CHART = 'benchmarks/history.svg';

/** The floor's figures by concurrency: `/run`, each floor and the overhead, as rows. */
function floorTable(rows: Row[]) {
  const byClients = new Map<string, Record<string, Row>>();
  for (const row of rows) {
    const match = /^(\/run|HTTP floor|SDK floor|SQL floor|library overhead), (\d+) clients?$/.exec(row.name);
    if (!match) continue;
    const entry = byClients.get(match[2]!) ?? {};
    entry[match[1]!] = row;
    byClients.set(match[2]!, entry);
  }
  return [...byClients].map(([clients, figures]) => ({ clients, figures }));
}

function floorBlock(rows: Row[]): string {
  if (rows.length === 0) return NOT_MEASURED;
  const used = new Set<Row>();
  const table = floorTable(rows);
  const goal = table.find(({ figures }) => figures['library overhead']?.goal)?.figures['library overhead']!.goal;
  const lines = table.map(({ clients, figures }) => {
    for (const row of Object.values(figures)) used.add(row);
    const overhead = figures['library overhead'];
    const figure = (name: string) => (figures[name] ? `${number(figures[name]!.value!)} ms` : '');
    const met = overhead?.met === false ? ' (**not met**)' : '';
    return cells([clients, figure('/run'), figure('HTTP floor'), figure('SDK floor'), figure('SQL floor'), `${figure('library overhead')}${met}`]);
  });
  const header = ['clients', '`/run`', 'HTTP floor', 'SDK floor', 'SQL floor', `library overhead${goal ? ` (goal ${goal})` : ''}`];
  return [[cells(header), cells(header.map(() => '---')), ...lines].join('\n'), 'All p50.', others(rows, used)].filter(Boolean).join('\n\n');
}

/** CPU time per /run by group, then the busiest functions. */
function profileBlock(rows: Row[]): string {
  if (rows.length === 0) return NOT_MEASURED;
  const groups = rows.filter((row) => row.name.startsWith('CPU per /run: '));
  const table = [
    cells(['part of the stack', 'CPU per `/run`', 'share']),
    cells(['---', '---', '---']),
    ...groups.map((row) => cells([row.name.slice('CPU per /run: '.length), `${number(row.value!)} ms`, unitPart(row, /^ms \(([\d.]+%)\)$/)])),
  ].join('\n');
  const top = rows.filter((row) => row.name.startsWith('top function '));
  const list = top.map((row) => `${row.name.slice('top function '.length)}. ${row.note}`).join('\n');
  const rest = others(rows, new Set([...groups, ...top]));
  return [rest, groups.length > 0 ? table : '', top.length > 0 ? `The busiest functions (self time):\n\n${list}` : ''].filter(Boolean).join('\n\n');
}

/**
 * The page's charts, by path from the repository's root, drawn from the same rows as its tables;
 * a chart whose figures the run lacks is left out (and so is its image on the page).
 */
export function benchmarksCharts(results: Results): Record<string, string> {
  const charts: Record<string, string> = {};
  const growth = growthFigures(results.rows.filter((row) => row.section === 'growth'));
  if (growth.sizes.length > 0) {
    charts[`docs/${HISTORY_CHART}`] = lineChart(
      '/run p50 against history size',
      growth.sizes.map((size) => `${size} items`),
      growth.columns.map((column) => ({
        name: column === 'no historyLimit' ? 'historyLimit: null' : column.startsWith('default') ? 'historyLimit: 1000 (default)' : column.replace(' ', ': '),
        values: growth.sizes.map((size) => growth.figures.get(`${size}|${column}`)?.value ?? null),
      })),
      'ms p50',
    );
  }
  const peers = results.rows.filter((row) => row.section === 'peers' && row.versus?.startsWith('library / '));
  if (peers.length > 0) {
    const works = [...new Set(peers.map((row) => row.name))];
    const names = [...new Set(peers.map((row) => row.versus!.slice('library / '.length)))];
    const figure = (work: string, peer: string) => peers.find((row) => row.name === work && row.versus === `library / ${peer}`);
    charts[`docs/${PEERS_CHART}`] = groupedBarChart(
      'The library beside its peers (lower is better)',
      works,
      [
        { name: 'library', values: works.map((work) => peers.find((row) => row.name === work)!.contenderMs ?? null) },
        ...names.map((peer) => ({ name: peer, values: works.map((work) => figure(work, peer)?.baselineMs ?? null) })),
      ],
      'ms (log)',
    );
  }
  const floor = floorTable(results.rows.filter((row) => row.section === 'floor')).filter(({ figures }) => figures['/run'] && figures['library overhead']);
  if (floor.length > 0) {
    const values = (name: string) => floor.map(({ figures }) => figures[name]?.value ?? null);
    charts[`docs/${FLOOR_CHART}`] = stackedBarChart(
      '/run p50 = HTTP floor + SDK floor + SQL floor + the library',
      floor.map(({ clients }) => `${clients} client${clients === '1' ? '' : 's'}`),
      ['HTTP floor', 'SDK floor', 'SQL floor', 'library overhead'].map((name) => ({ name, values: values(name) })),
      'ms p50',
      floor.map(({ figures }) => `/run ${number(figures['/run']!.value!)} ms`),
    );
  }
  return charts;
}

function runBlock({ date, machine, rows }: Results): string {
  const missed = rows.filter((row) => row.met === false);
  const goals = missed.length === 0 ? '**Every goal was met.**' : `**Goals not met:** ${missed.map((row) => code(row.name)).join('; ')}.`;
  const postgres = machine.postgres ? `, ${machine.postgres}` : '';
  return `Last full run, ${date.slice(0, 10)}: ${machine.cpus}, ${machine.memory_gb} GiB, Node ${machine.node}${postgres} (${machine.platform}). ${goals}`;
}

function sessionBlock(rows: Row[]): string {
  // Each "library / raw pg" row is followed by its "library / bare insert" row, when it has one.
  const lines: string[] = [];
  const used = new Set<Row>();
  const goals = new Set<string>();
  const bareGoals = new Set<string>();
  rows.forEach((row, index) => {
    if (row.versus !== 'library / raw pg') return;
    const next = rows[index + 1];
    const bare = next?.versus === 'library / bare insert' ? next : undefined;
    used.add(row);
    if (bare) used.add(bare);
    if (row.goal) goals.add(row.goal);
    if (bare?.goal) bareGoals.add(bare.goal);
    lines.push(cells([code(row.name), ms(row.contenderMs), ms(row.baselineMs), ratio(row), bare ? ratio(bare) : '']));
  });
  const goal = goals.size === 1 ? ` (goal ${[...goals][0]})` : '';
  const bareGoal = bareGoals.size === 1 ? ` (goal ${[...bareGoals][0]} for writes)` : '';
  const table = [cells(['operation', 'library', 'raw `pg`', `ratio${goal}`, `vs bare${bareGoal}`]), cells(['---', '---', '---', '---', '---']), ...lines];
  return [table.join('\n'), others(rows, used)].filter(Boolean).join('\n\n');
}

function peersBlock(rows: Row[], versions: Record<string, string>): string {
  const measured = rows.filter((row) => row.versus?.startsWith('library / '));
  const peers = [...new Set(measured.map((row) => row.versus!.slice('library / '.length)))];
  const works = [...new Set(measured.map((row) => row.name))];
  const goals = [...new Set(measured.map((row) => row.goal).filter(Boolean))];
  const parts = [
    `Versions: ${Object.entries(versions)
      .map(([name, version]) => `\`${name}\` ${version}`)
      .join(', ')}.`,
  ];
  if (works.length > 0) {
    const lines = works.map((work) => {
      const row = (peer: string) => measured.find((r) => r.name === work && r.versus === `library / ${peer}`);
      const library = measured.find((r) => r.name === work)!.contenderMs;
      return cells([work, ms(library), ...peers.map((peer) => (row(peer) ? `${ms(row(peer)!.baselineMs)} (${ratio(row(peer)!)})` : ''))]);
    });
    parts.push(
      [cells(['work', 'library', ...peers]), cells(['---', '---', ...peers.map(() => '---')]), ...lines].join('\n'),
      `In parentheses: library time / peer time${goals.length === 1 ? ` (goal ${goals[0]})` : ''}.`,
    );
  }
  const rest = others(rows, new Set(measured));
  if (rest) parts.push(rest);
  return parts.join('\n\n');
}

function httpBlock(rows: Row[]): string {
  const used = new Set<Row>();
  const lines: string[] = [];
  const goals = new Set<string>();
  for (const row of rows) {
    const match = /^\/run throughput, (\d+) clients? \(req\/s\)$/.exec(row.name);
    if (!match) continue;
    const clients = match[1]!;
    const latency = (who: string) => rows.find((r) => r.name === `/run latency, ${clients} client${clients === '1' ? '' : 's'}, ${who}`);
    const [library, handwritten] = [latency('library'), latency('hand-written')];
    for (const r of [row, library, handwritten]) if (r) used.add(r);
    if (row.goal) goals.add(row.goal);
    lines.push(
      cells([
        clients,
        `${number(row.value!)} req/s`,
        `${number(Number(unitPart(row, /^req\/s vs ([\d.]+) req\/s$/)))} req/s`,
        ratio(row),
        library ? percentiles(library) : '',
        handwritten ? percentiles(handwritten) : '',
      ]),
    );
  }
  const goal = goals.size === 1 ? ` (goal ${[...goals][0]})` : '';
  const header = ['clients', 'library', 'hand-written', `ratio${goal}`, 'library p50 / p99', 'hand-written p50 / p99'];
  const table = lines.length > 0 ? [cells(header), cells(header.map(() => '---')), ...lines].join('\n') : '';
  return [table, others(rows, used)].filter(Boolean).join('\n\n');
}

/**
 * CPU per /run by contender and process, at each concurrency, with the throughput ratio the
 * totals predict beside the one measured (from the http section's rows).
 */
function cpuBlock(rows: Row[], httpRows: Row[]): string {
  if (rows.length === 0) return NOT_MEASURED;
  const used = new Set<Row>();
  const find = (name: string) => {
    const row = rows.find((r) => r.name === name);
    if (row) used.add(row);
    return row;
  };
  const lines: string[] = [];
  for (const predicted of rows) {
    const match = /^\/run throughput the CPU predicts, (\d+ clients?)$/.exec(predicted.name);
    if (!match) continue;
    used.add(predicted);
    const label = match[1]!;
    const measured = httpRows.find((row) => row.name === `/run throughput, ${label} (req/s)`);
    for (const contender of ['library', 'hand-written']) {
      const parts = ['server', 'PostgreSQL', 'load generator'].map((part) => find(`CPU per /run, ${label}, ${contender}, ${part}`)?.value);
      const total = parts.every((part) => part !== undefined) ? parts.reduce((sum, part) => sum! + part!, 0)! : undefined;
      const first = contender === 'library';
      lines.push(
        cells([
          first ? label.split(' ')[0]! : '',
          contender,
          ...parts.map((part) => (part === undefined ? '' : `${number(part)} ms`)),
          total === undefined ? '' : `${number(total)} ms`,
          first ? predicted.ratio!.toFixed(2) : '',
          first && measured?.ratio !== undefined ? measured.ratio.toFixed(2) : '',
        ]),
      );
    }
  }
  const header = ['clients', 'contender', 'server', 'PostgreSQL', 'load generator', 'total', 'throughput ratio the CPU predicts', 'measured'];
  const table = lines.length > 0 ? [cells(header), cells(header.map(() => '---')), ...lines].join('\n') : '';
  return [table, others(rows, used)].filter(Boolean).join('\n\n');
}

/** The "/run on a session of N items, <limit>" rows, by size and limit. */
function growthFigures(rows: Row[]) {
  const sizes: string[] = [];
  const columns: string[] = [];
  const figures = new Map<string, Row>();
  for (const row of rows) {
    const match = /^\/run on a session of ([\d,]+) items, (no historyLimit|default historyLimit \(1,000\)|historyLimit \d+)$/.exec(row.name);
    if (!match) continue;
    const [, size, column] = match as unknown as [string, string, string];
    if (!sizes.includes(size)) sizes.push(size);
    if (!columns.includes(column)) columns.push(column);
    figures.set(`${size}|${column}`, row);
  }
  return { sizes, columns, figures };
}

function growthBlock(rows: Row[]): string {
  const { sizes, columns, figures } = growthFigures(rows);
  const used = new Set<Row>(figures.values());
  const heading = (column: string) =>
    column === 'no historyLimit'
      ? '`historyLimit: null` (everything)'
      : column.startsWith('default')
        ? 'default (`historyLimit: 1000`)'
        : `\`historyLimit: ${column.split(' ')[1]}\``;
  const lines = sizes.map((size) =>
    cells([`${size} items`, ...columns.map((column) => (figures.has(`${size}|${column}`) ? `${number(figures.get(`${size}|${column}`)!.value!)} ms` : ''))]),
  );
  const table =
    lines.length > 0 ? [cells(['`/run` on a session of', ...columns.map(heading)]), cells(['---', ...columns.map(() => '---')]), ...lines].join('\n') : '';
  return [table, others(rows, used)].filter(Boolean).join('\n\n');
}

/** The rows no table shows, one line each. */
function others(rows: Row[], used: Set<Row>): string {
  return rows
    .filter((row) => !used.has(row))
    .map((row) => {
      let figure: string;
      if (row.note !== undefined) figure = row.note;
      else if (row.value !== undefined) {
        // "SQL statements per ..." needs no unit after its count.
        const unit = row.unit && !row.name.includes(row.unit) ? ` ${row.unit}` : '';
        figure = `**${number(row.value)}**${unit}${row.ratio !== undefined ? `, ratio ${ratio(row)}` : ''}`;
      } else figure = `**${ratio(row)}**`;
      const goal = row.goal ? `, goal ${row.goal}${row.met === false ? ' (**not met**)' : ''}` : '';
      return `- ${code(row.name)}: ${figure}${goal}.`;
    })
    .join('\n');
}

/** The figure a row's unit carries beside its own value, e.g. the baseline's "46" in "req/s vs 46 req/s". */
function unitPart(row: Row, pattern: RegExp): string {
  const match = pattern.exec(row.unit ?? '');
  if (!match) throw new Error(`bench/results/latest.json: "${row.name}" has the unit "${row.unit}", not ${pattern}.`);
  return match[1]!;
}

function percentiles(row: Row): string {
  return `${number(row.value!)} / ${number(Number(unitPart(row, /^ms p50, ([\d.]+) ms p99$/)))} ms`;
}

function cells(values: string[]): string {
  return `| ${values.join(' | ')} |`;
}

/** Method names, paths and options in code font, as everywhere else in the docs. */
function code(name: string): string {
  return name.replace(/(?:addItems|getItems|popItem)(?:\(\d+\))?|\/run\b|\/stream\b|historyLimit/g, (match) => `\`${match}\``);
}

function ms(value: number | undefined): string {
  return value === undefined ? '' : `${number(value)} ms`;
}

function ratio(row: Row): string {
  if (row.ratio === undefined) return '';
  return `${row.ratio.toFixed(2)}${row.met === false ? ' (**not met**)' : ''}`;
}

/** Three significant figures or so: 0.80, 24.2, 370, 1,234; integers as they are. */
function number(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en');
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en');
}
