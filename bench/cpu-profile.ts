/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) into self time by function and by the
 * part of the stack it belongs to, so that the benchmark can say what a /run's CPU time is made of.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** When the profile started, in µs of the monotonic clock (`process.hrtime`). */
  startTime: number;
  samples: number[];
  /** Microseconds between a sample and the one before it. */
  timeDeltas: number[];
}

export interface SelfTime {
  /** "name (file:line)", or the name alone for V8's own entries. */
  name: string;
  group: string;
  /** Self time in ms. */
  ms: number;
}

// Packages by the group they are reported under; any other package counts as "other packages".
const PACKAGE_GROUPS: [string, RegExp][] = [
  ['the SDK', /^(@openai\/|openai$)/],
  ['kysely', /^kysely$/],
  ['pg', /^(pg|pg-.+|pgpass|postgres-.+)$/],
  ['zod', /^zod$/],
  [
    'express',
    /^(express|router|body-parser|raw-body|finalhandler|iconv-lite|qs|type-is|content-type|media-typer|mime-types|mime-db|on-finished|statuses|http-errors|depd|path-to-regexp|send|debug|ms|negotiator|accepts|fresh|etag|cookie|vary|encodeurl|escape-html|parseurl|proxy-addr|forwarded|range-parser|setprototypeof|toidentifier|unpipe|ee-first|content-disposition|safe-buffer|safer-buffer|bytes|call-bind.*|call-bound|get-intrinsic|side-channel.*|object-inspect|es-.+|dunder-proto|gopd|has-symbols|hasown|function-bind|math-intrinsics|get-proto|serve-static|once|wrappy|is-promise)$/,
  ],
];

/** The group a frame's self time is counted in. */
export function groupOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') return functionName;
  if (url === '') return /^(stringify|parse)$/.test(functionName) ? 'JSON' : 'native (V8 built-ins, I/O bindings)';
  if (url.startsWith('node:')) return 'Node.js (http, net, streams, timers)';
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  const inPackage = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (inPackage) return PACKAGE_GROUPS.find(([, pattern]) => pattern.test(inPackage[1]!))?.[0] ?? 'other packages';
  // The bench server imports the built package by name: its dist/ is the library's own code.
  if (path.includes('/dist/')) return 'the library (src/)';
  return 'the bench server';
}

/** Self time by function of the samples taken within [fromUs, toUs], busiest first; idle time is left out. */
export function selfTimes(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): SelfTime[] {
  const byNode = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= fromUs && at <= toUs) byNode.set(id, (byNode.get(id) ?? 0) + delta);
  });
  const byFunction = new Map<string, SelfTime>();
  for (const node of profile.nodes) {
    const us = byNode.get(node.id);
    if (!us) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const group = groupOf(functionName, url);
    if (group === '(idle)') continue;
    const file = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(dist|bench)\//, '$1/');
    const name = url ? `${functionName || '(anonymous)'} (${file}:${lineNumber + 1})` : functionName;
    const entry = byFunction.get(name) ?? { name, group, ms: 0 };
    entry.ms += us / 1000;
    byFunction.set(name, entry);
  }
  return [...byFunction.values()].sort((a, b) => b.ms - a.ms);
}

/** Self time by group, busiest first. */
export function groupTimes(times: SelfTime[]): { group: string; ms: number }[] {
  const byGroup = new Map<string, number>();
  for (const { group, ms } of times) byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
  return [...byGroup].map(([group, ms]) => ({ group, ms })).sort((a, b) => b.ms - a.ms);
}
