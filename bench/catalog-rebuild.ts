/**
 * How `hindsight catalog rebuild` grows with the number of objects in a storage: for 1,000, 10,000
 * and 100,000 objects of the real mix on local storage (bench/support/rebuild-storage.ts), the
 * whole rebuild — listing, reading manifests, records and index batches, proving headers with the
 * key, decoding the WAL objects no batch describes, planning, and writing the rows into a real
 * catalog PostgreSQL (migrated, empty) — then a second rebuild of the same storage, which must add
 * nothing. Each run's report is checked against what was written, so a fast rebuild that drops
 * rows fails here. Prints a table: objects, seconds (read / plan / write), objects per second, rows
 * written, and the peak RSS sampled while the rebuild ran.
 *
 *   scripts/node bench/catalog-rebuild.ts        (BENCH_REBUILD_SIZES=1000,10000,100000 by default)
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { createCatalogPool } from '../lib/catalog/catalog.ts';
import { migrate } from '../lib/catalog/migrate.ts';
import type { RebuildReport } from '../lib/catalog/rebuild/report.ts';
import { rebuildFromStorage, type RebuildPhase } from '../lib/catalog/rebuild/run.ts';
import { createRebuildStore } from '../lib/catalog/rebuild/store.ts';
import { generateSecretKey, type SecretKey } from '../lib/crypto/secret-key.ts';
import type { LocalCluster } from '../lib/pg/cluster.ts';
import { createLocalStorage } from '../lib/storage/local/driver.ts';
import { createDatabase, startTestCluster } from '../test/support/platform.ts';
import { log } from './settings.ts';
import { runBench } from './support/run.ts';
import { writeStorage, type StorageMix } from './support/rebuild-storage.ts';

const STORAGE = 'bench';

interface Timed {
  report: Omit<RebuildReport, 'storageAdded'>;
  seconds: number;
  phases: Record<RebuildPhase, number>;
  peakRssMiB: number;
}

const rowsWritten = (r: Timed['report']): number =>
  r.databases.added + r.backups.added + r.copies.added + r.baseBackups.added + r.walSegments.added + r.histories.added;

/** One rebuild, with the RSS sampled every 25 ms while it runs. */
async function timedRebuild(pool: pg.Pool, root: string, key: SecretKey): Promise<Timed> {
  const driver = createLocalStorage({ name: STORAGE, root });
  const phases: Record<RebuildPhase, number> = { read: 0, plan: 0, write: 0 };
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 25);
  const started = performance.now();
  try {
    const report = await rebuildFromStorage(
      createRebuildStore(pool),
      { name: STORAGE, driver },
      key,
      (phase, ms) => (phases[phase] = ms),
    );
    const seconds = (performance.now() - started) / 1000;
    return { report, seconds, phases, peakRssMiB: Math.max(peak, process.memoryUsage.rss()) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

/** Everything written must come back, nothing be unreadable, and a second run add nothing. */
function check(mix: StorageMix, first: Timed['report'], second: Timed['report']): void {
  assert.deepEqual(first.unreadable, [], 'the generated storage reads whole');
  assert.equal(first.backups.added, mix.backups);
  assert.equal(first.copies.added, mix.backups);
  assert.equal(first.baseBackups.added, mix.baseBackups);
  assert.equal(first.walSegments.added, mix.indexed + mix.loose + mix.partials);
  assert.equal(first.walSegments.fromIndex, mix.indexed);
  assert.equal(first.histories.added, mix.histories);
  assert.equal(second.changed, false, 'a second rebuild adds nothing');
  assert.equal(rowsWritten(second), 0);
  assert.equal(second.walSegments.found, first.walSegments.found);
}

interface Row {
  objects: number;
  run: string;
  timed: Timed;
}

async function benchOne(cluster: LocalCluster, dir: string, total: number): Promise<Row[]> {
  const root = path.join(dir, `store-${total}`);
  const key = generateSecretKey();
  const generated = performance.now();
  const mix = await writeStorage(root, key, total);
  log(`${mix.objects} objects written in ${((performance.now() - generated) / 1000).toFixed(1)} s`);
  const pool = createCatalogPool(await createDatabase(cluster, `catalog_${total}`));
  try {
    await migrate(pool);
    await pool.query(`insert into storages (name, type, config, workspace_id) values ($1, 'local', $2, 1)`, [
      STORAGE,
      JSON.stringify({ type: 'local', path: root }),
    ]);
    const first = await timedRebuild(pool, root, key);
    const second = await timedRebuild(pool, root, key);
    check(mix, first.report, second.report);
    return [
      { objects: mix.objects, run: 'empty catalog', timed: first },
      { objects: mix.objects, run: 'again (adds nothing)', timed: second },
    ];
  } finally {
    await pool.end();
    await rm(root, { recursive: true, force: true });
  }
}

function printTable(rows: Row[]): void {
  const lines = [
    '| objects | run | seconds (read / plan / write) | objects/s | catalog rows written | peak RSS |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(({ objects, run, timed }) => {
      const p = timed.phases;
      const split = [p.read, p.plan, p.write].map((ms) => (ms / 1000).toFixed(2)).join(' / ');
      return `| ${objects.toLocaleString('en')} | ${run} | ${timed.seconds.toFixed(2)} (${split}) | ${Math.round(objects / timed.seconds).toLocaleString('en')} | ${rowsWritten(timed.report).toLocaleString('en')} | ${timed.peakRssMiB.toFixed(0)} MiB |`;
    }),
  ];
  console.log(lines.join('\n'));
}

const sizes = (process.env.BENCH_REBUILD_SIZES ?? '1000,10000,100000').split(',').map(Number);
for (const size of sizes)
  if (!Number.isInteger(size) || size < 100)
    throw new Error(`BENCH_REBUILD_SIZES holds "${size}": sizes of 100 or more`);

runBench(log, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-rebuild-'));
  // Run as root, PostgreSQL runs as its own user, which must reach its data directory in here.
  await chmod(dir, 0o755);
  let cluster: LocalCluster | undefined;
  return {
    async work() {
      cluster = await startTestCluster(dir);
      const rows: Row[] = [];
      for (const size of sizes) {
        rows.push(...(await benchOne(cluster, dir, size)));
        log(`${size} done`);
      }
      printTable(rows);
    },
    async cleanup() {
      await cluster?.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
    onFailure: () => undefined,
  };
});
