/**
 * An incremental base backup against a full one, in one run, on PostgreSQL 17 with
 * summarize_wal on: generate application-like data (bench/dataset.ts, compresses 3–4× with zstd),
 * take a full base backup through Hindsight's pipeline (pg_basebackup → zstd -5 → AES-256-GCM →
 * local storage, manifest stored beside it), change 5 % of the heap pages of every table, take an
 * increment against the full's manifest read back from storage, and print the increment's time
 * and sizes as ratios of the full's. Alternating rounds; medians.
 *
 *   scripts/node --import tsx bench/incremental-base-backup.ts
 *
 * Environment: BENCH_SIZE_MB (default 600), BENCH_ROUNDS (default 2).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSecretKey } from '../lib/crypto/secret-key.ts';
import { openLocalCluster } from '../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../lib/pg/connection.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import { baseBackupKey, baseManifestKey } from '../lib/wal/archive-keys.ts';
import { streamBaseBackupToStorage, type BaseBackupResult } from '../lib/wal/base-backup.ts';
import { decodeWalObject } from '../lib/wal/segment-codec.ts';
import { freePort } from '../test/support/ports.ts';
import { generateDataset } from './dataset.ts';

const MIB = 1024 * 1024;
const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

const sizeMb = envInt('BENCH_SIZE_MB', 600);
const rounds = envInt('BENCH_ROUNDS', 2);

/**
 * Updates every row on one heap page in 20 of each table (a different residue each round, so that
 * every round meets live rows): 5 % of the heap pages hold a change. PostgreSQL writes the new row
 * versions to other pages and adds their index entries, so more than 5 % of the cluster's pages
 * change; the increment's tar against the full's says how much.
 */
async function changeFivePercentOfPages(target: PgTarget, round: number): Promise<number> {
  const client = await connect('bench', target);
  try {
    const { rows: tables } = await client.query<{ name: string; pages: string }>(
      `select c.relname as name, pg_relation_size(c.oid) / current_setting('block_size')::int as pages
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'`);
    let changed = 0;
    for (const t of tables) {
      // (ctid::text::point)[0] is the row's block number.
      const result = await client.query(`update ${t.name} set id = id where ((ctid::text::point)[0])::bigint % 20 = $1`, [round % 20]);
      changed += Math.ceil(Number(t.pages) / 20);
      log(`  ${t.name}: ${result.rowCount} rows on ${Math.ceil(Number(t.pages) / 20)} of ${t.pages} pages rewritten`);
    }
    await client.query('checkpoint');
    return changed;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hindsight-bench-incr-'));
  // The cluster runs as PostgreSQL's own OS user, which must traverse the directory.
  await chmod(root, 0o711);
  await mkdir(path.join(root, 'storage'), { recursive: true });
  const cluster = await openLocalCluster({ dataDir: path.join(root, 'pg'), port: await freePort(), major: 17, settings: { summarize_wal: 'on', max_wal_size: "'4GB'" } });
  await cluster.start();
  const driver = createStorageDriver('bench', { type: 'local', path: path.join(root, 'storage') });
  const key = generateSecretKey();
  const sysid = '1';
  const work = path.join(root, 'work');
  await mkdir(work, { mode: 0o700 });
  try {
    const admin = await connect('bench', cluster.target('postgres'));
    await admin.query('create database bench');
    await admin.end();
    const target = cluster.target('bench');
    log(`generating ~${sizeMb} MiB (bench/dataset.ts)`);
    const clients = await Promise.all([0, 1].map(() => connect('bench', target)));
    const dataset = await generateDataset(clients, sizeMb);
    await Promise.all(clients.map((c) => c.end()));
    log(`dataset: ${(dataset.sizeBytes / MIB).toFixed(0)} MiB in ${dataset.seconds.toFixed(0)} s`);

    const take = async (id: string, incrementalFrom?: string): Promise<{ seconds: number; result: BaseBackupResult }> => {
      const started = performance.now();
      const result = await streamBaseBackupToStorage({
        database: 'bench', label: `bench ${id}`, target, serverMajor: 17, driver, key, workDir: work,
        objectKey: baseBackupKey(sysid, id), manifestKey: baseManifestKey(sysid, id), ...(incrementalFrom ? { incrementalFrom } : {}),
      });
      return { seconds: (performance.now() - started) / 1000, result };
    };
    const full: Array<{ seconds: number; result: BaseBackupResult }> = [];
    const incr: Array<{ seconds: number; result: BaseBackupResult }> = [];
    let changedPages = 0;
    for (let round = 1; round <= rounds; round++) {
      const f = await take(`full-${round}`);
      full.push(f);
      log(`round ${round}: full ${f.seconds.toFixed(1)} s, ${(f.result.sizeBytes / MIB).toFixed(0)} MiB tar, ${(f.result.storedBytes / MIB).toFixed(0)} MiB stored (zstd ${(f.result.sizeBytes / f.result.storedBytes).toFixed(2)}×)`);
      changedPages = await changeFivePercentOfPages(target, round);
      const manifest = path.join(work, `manifest-${round}`);
      await decodeWalObject({ driver, objectKey: baseManifestKey(sysid, `full-${round}`), key, destination: manifest });
      const i = await take(`incr-${round}`, manifest);
      incr.push(i);
      log(`round ${round}: incremental ${i.seconds.toFixed(1)} s, ${(i.result.sizeBytes / MIB).toFixed(0)} MiB tar, ${(i.result.storedBytes / MIB).toFixed(0)} MiB stored`);
    }
    const m = (list: typeof full, pick: (x: (typeof full)[number]) => number) => median(list.map(pick));
    const rows = [
      ['time (s)', m(full, (x) => x.seconds), m(incr, (x) => x.seconds)],
      ['tar (MiB)', m(full, (x) => x.result.sizeBytes) / MIB, m(incr, (x) => x.result.sizeBytes) / MIB],
      ['stored (MiB)', m(full, (x) => x.result.storedBytes) / MIB, m(incr, (x) => x.result.storedBytes) / MIB],
    ] as const;
    console.log(`\nPostgreSQL 17, ${(dataset.sizeBytes / MIB).toFixed(0)} MiB database, ${changedPages} heap pages changed (5 %), ${rounds} round(s), medians`);
    console.log('| | full | incremental | incremental / full |\n|---|---|---|---|');
    for (const [name, f, i] of rows) console.log(`| ${name} | ${f.toFixed(1)} | ${i.toFixed(1)} | ${(i / f).toFixed(3)} |`);
    console.log(`zstd ratio of the full: ${(m(full, (x) => x.result.sizeBytes) / m(full, (x) => x.result.storedBytes)).toFixed(2)}×; `
      + `the increment carries ${(100 * m(incr, (x) => x.result.sizeBytes) / m(full, (x) => x.result.sizeBytes)).toFixed(1)} % of the full's bytes (changed heap pages, the new row versions' pages, index pages)`);
  } finally {
    await cluster.stop('immediate').catch(() => undefined);
    await driver.close?.().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
