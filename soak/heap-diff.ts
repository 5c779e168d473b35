// What grew between two heap snapshots of one process (`npm run soak -- --heap-snapshots=DIR`
// writes them): objects counted by kind and constructor name, the largest growths first.
// Usage: npx tsx soak/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top=30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Group {
  count: number;
  bytes: number;
}

/**
 * The snapshot's nodes grouped by "kind name" (V8's node types: object, closure, string...),
 * with their count and self size. The format is V8's: a flat array of nodes, `node_fields`
 * values per node, names as indices into `strings`.
 */
function groupNodes(snapshot: any): Map<string, Group> {
  const fields: string[] = snapshot.snapshot.meta.node_fields;
  const types: string[] = snapshot.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field)) as [number, number, number];
  const nodes: number[] = snapshot.nodes;
  const groups = new Map<string, Group>();
  for (let at = 0; at < nodes.length; at += fields.length) {
    const kind = types[nodes[at + type]!]!;
    // Strings are grouped as one: their text is their name, and every text would be a group.
    const label = kind === 'string' || kind === 'concatenated string' || kind === 'sliced string' ? kind : `${kind} ${snapshot.strings[nodes[at + name]!]}`;
    const group = groups.get(label) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += nodes[at + size]!;
    groups.set(label, group);
  }
  return groups;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
if (positionals.length !== 2) {
  console.error('usage: tsx soak/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top=30]');
  process.exit(2);
}
const [before, after] = positionals.map((file) => groupNodes(JSON.parse(readFileSync(file, 'utf8'))));
const growth = [...after!].map(([label, group]) => {
  const old = before!.get(label) ?? { count: 0, bytes: 0 };
  return { label, count: group.count - old.count, bytes: group.bytes - old.bytes, total: group.count };
});
growth.sort((a, b) => b.bytes - a.bytes);
const total = growth.reduce((sum, row) => sum + row.bytes, 0);
console.log(`self size grew by ${(total / 1024).toFixed(0)} KiB in all; the largest growths:`);
for (const row of growth.slice(0, Number(values.top))) {
  console.log(`${(row.bytes / 1024).toFixed(1).padStart(10)} KiB  ${String(row.count).padStart(8)} more (${row.total} now)  ${row.label.slice(0, 100)}`);
}
