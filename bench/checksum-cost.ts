/**
 * What content checksums (lib/pg/table-checksums.ts) cost a logical backup: the same backup pipeline
 * (pg_dump → compression → SHA-256 → AES-256-GCM → local storage, counts in the dump's snapshot) with
 * counts only, with the default policy (tables up to 8 MiB whole, larger ones sampled one row in 64
 * by primary key) and with every row of every table hashed, in alternating rounds on one generated
 * database. Prints the median wall time of each and its ratio to counts only, and the cores and load.
 * Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 3).
 *
 *   BENCH_SIZE_MB=200 scripts/node bench/checksum-cost.ts
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { streamDumpToStorage } from '../lib/backup/dump.ts';
import { connect } from '../lib/pg/connection.ts';
import { countRows } from '../lib/pg/row-counts.ts';
import { DEFAULT_CHECKSUM_POLICY, type ChecksumPolicy } from '../lib/pg/table-checksums.ts';
import { createLocalStorage } from '../lib/storage/local/driver.ts';
import { createDatabase, startPlatform, type Platform } from '../test/support/platform.ts';
import { fmtBytes, fmtSeconds } from './backup-vs-pg-dump/report-format.ts';
import { generateDataset } from './dataset.ts';
import { envInt, log, median } from './settings.ts';
import { runBench } from './support/run.ts';

interface Contender {
  name: string;
  checksums: ChecksumPolicy | null;
}

const CONTENDERS: Contender[] = [
  { name: 'counts only', checksums: null },
  { name: 'default policy (8 MiB whole, then 1 in 64 by key)', checksums: DEFAULT_CHECKSUM_POLICY },
  { name: 'every table sampled 1 in 64 by key', checksums: { fullMaxBytes: 0, sampleOneIn: 64 } },
  { name: 'every row of every table', checksums: { fullMaxBytes: Number.MAX_SAFE_INTEGER, sampleOneIn: 1 } },
];

/** The counting scan alone, outside a backup: its cost without pg_dump competing for the cores. */
async function oneCount(platform: Platform, contender: Contender): Promise<number> {
  const client = await connect('bench', platform.cluster.target('bench_source'));
  try {
    const started = performance.now();
    await countRows(client, contender.checksums ? { policy: contender.checksums } : undefined);
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

async function oneBackup(platform: Platform, contender: Contender, round: number): Promise<number> {
  const root = path.join(platform.dir, 'checksum-bench');
  await rm(root, { recursive: true, force: true });
  const driver = createLocalStorage({ name: 'bench', root });
  const started = performance.now();
  const result = await streamDumpToStorage({
    databaseName: 'source',
    backupId: `20261207T00000${round}Z-${'abcdef'.slice(0, 6)}`,
    target: platform.cluster.target('bench_source'),
    destinations: [{ name: 'bench', driver }],
    key: platform.runtime.key,
    checksums: contender.checksums,
  });
  const seconds = (performance.now() - started) / 1000;
  const sampled = result.manifest.tables.filter((t) => t.checksum?.scope === 'sample').length;
  const whole = result.manifest.tables.filter((t) => t.checksum?.scope === 'full').length;
  log(`${contender.name}: ${fmtSeconds(seconds)} (${whole} tables whole, ${sampled} sampled)`);
  return seconds;
}

function printTable(what: string, times: Map<string, number[]>): void {
  const base = median(times.get(CONTENDERS[0]!.name)!);
  console.log(`\n${what}\n\n| contender | wall time (runs) | ratio to counts only |\n| --- | --- | --- |`);
  for (const c of CONTENDERS) {
    const runs = times.get(c.name)!;
    const m = median(runs);
    console.log(
      `| ${c.name} | ${fmtSeconds(m)} (${runs.map((r) => r.toFixed(2)).join(', ')}) | ${(m / base).toFixed(3)} |`,
    );
  }
}

runBench(log, async () => {
  const settings = { sizeMb: envInt('BENCH_SIZE_MB', 1100), rounds: envInt('BENCH_ROUNDS', 3) };
  let platform: Platform | undefined;
  return {
    async work() {
      platform = await startPlatform();
      const source = await createDatabase(platform.cluster, 'bench_source');
      const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
      const dataset = await generateDataset(clients, settings.sizeMb).finally(() =>
        Promise.all(clients.map((c) => c.end())),
      );
      log(`database size ${fmtBytes(dataset.sizeBytes)}, generated in ${fmtSeconds(dataset.seconds)}`);
      const times = new Map<string, number[]>(CONTENDERS.map((c) => [c.name, []]));
      const scans = new Map<string, number[]>(CONTENDERS.map((c) => [c.name, []]));
      for (let round = 0; round < settings.rounds; round++) {
        // Alternating order, so that no contender always runs on a warmer cache.
        const order = round % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
        for (const contender of order) {
          times.get(contender.name)!.push(await oneBackup(platform, contender, round));
          scans.get(contender.name)!.push(await oneCount(platform, contender));
        }
      }
      printTable('the whole backup', times);
      printTable('the counting scan alone (no pg_dump beside it)', scans);
      const load = os.loadavg().map((l) => l.toFixed(1));
      console.log(
        `\n${os.cpus().length} cores, load average ${load.join(' ')}, ${fmtBytes(dataset.sizeBytes)} database`,
      );
    },
    async cleanup() {
      await platform?.stop().catch(() => undefined);
    },
    onFailure() {},
  };
});
