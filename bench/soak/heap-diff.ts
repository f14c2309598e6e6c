/**
 * Compares two V8 heap snapshots (`SOAK_HEAP_SNAPSHOTS=1 npm run soak` writes them into bench/out/):
 * objects and bytes per constructor in each, the biggest growth first. A leak is a kind of object
 * whose count keeps rising between two points of the same steady load.
 *
 *   scripts/node bench/soak/heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [rows]
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const snapshotSchema = z.object({
  snapshot: z.object({
    meta: z.object({ node_fields: z.array(z.string()), node_types: z.array(z.unknown()) }),
  }),
  nodes: z.array(z.number()),
  strings: z.array(z.string()),
});

interface Tally {
  count: number;
  bytes: number;
}

/** Objects and self bytes per "type:name" (constructor for objects, "(string)" etc. otherwise). */
export async function tallyOf(file: string): Promise<Map<string, Tally>> {
  const parsed = snapshotSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  const fields = parsed.snapshot.meta.node_fields;
  const typeNames = parsed.snapshot.meta.node_types[0] as string[];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const tally = new Map<string, Tally>();
  for (let i = 0; i < parsed.nodes.length; i += fields.length) {
    const type = typeNames[parsed.nodes[i + typeAt]!] ?? '?';
    const name = type === 'object' || type === 'closure' ? parsed.strings[parsed.nodes[i + nameAt]!] : '';
    const key = `${type}:${name ?? ''}`;
    const entry = tally.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += parsed.nodes[i + sizeAt]!;
    tally.set(key, entry);
  }
  return tally;
}

async function main(): Promise<void> {
  const [earlier, later, rows] = process.argv.slice(2);
  if (!earlier || !later) throw new Error('usage: heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [rows]');
  const [a, b] = [await tallyOf(earlier), await tallyOf(later)];
  const total = (t: Map<string, Tally>) => [...t.values()].reduce((s, v) => s + v.bytes, 0);
  const diff = [...new Set([...a.keys(), ...b.keys()])].map((key) => {
    const [x, y] = [a.get(key) ?? { count: 0, bytes: 0 }, b.get(key) ?? { count: 0, bytes: 0 }];
    return { key, count: y.count - x.count, bytes: y.bytes - x.bytes, now: y.count };
  });
  diff.sort((p, q) => q.bytes - p.bytes);
  const mib = (n: number) => (n / 1048576).toFixed(2);
  process.stdout.write(`heap ${mib(total(a))} → ${mib(total(b))} MiB\n`);
  for (const d of diff.slice(0, Number(rows ?? 30)))
    process.stdout.write(
      `${mib(d.bytes).padStart(8)} MiB ${String(d.count).padStart(8)} objects (${d.now} now)  ${d.key}\n`,
    );
}

await main();
