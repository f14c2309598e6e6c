/**
 * What synchronous PITR costs a commit: N single-row INSERT commits, one after another on one
 * connection, timed from the client, first with the WAL receiver in its asynchronous mode
 * (pg_receivewal; commits wait for nothing), then with it as the synchronous standby
 * `hindsight_bench` that confirms only what storage holds (local storage here, so the figure is
 * the pipeline's own cost: upload of the partial segment — zstd, AES-256-GCM, write, commit — and
 * its record). Prints p50/p99 per mode and the ratio. No pgbench: the commits are the workload.
 *
 *   scripts/node bench/commit-latency-sync.ts
 *
 * Environment: BENCH_COMMITS (default 300), BENCH_MAJOR (default 17).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SegmentUpload, WalSegmentRecord } from '../lib/catalog/wal-objects.ts';
import { generateSecretKey } from '../lib/crypto/secret-key.ts';
import { createLogger } from '../lib/logger.ts';
import { openLocalCluster, type LocalCluster } from '../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../lib/pg/connection.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import { runWalReceiver, type ReceiverStatus, type WalArchiveCatalog } from '../lib/wal/receiver.ts';
import { freePort } from '../test/support/ports.ts';
import { envInt, log } from './settings.ts';

const commits = envInt('BENCH_COMMITS', 300);
const major = envInt('BENCH_MAJOR', 17);

/** The catalog calls the receiver makes, kept in memory: the bench measures the stream, not the catalog. */
function memoryCatalog(): WalArchiveCatalog {
  const segments = new Map<string, WalSegmentRecord>();
  const histories: Array<{ timeline: number; content: string }> = [];
  return {
    recordServerIdentity: async () => undefined,
    recordSegment: async (upload: SegmentUpload) => {
      segments.set(`${upload.timeline}:${upload.segno}`, { ...upload, receivedAt: new Date() });
    },
    getSegment: async (_db, _sysid, timeline, segno) => segments.get(`${timeline}:${segno}`),
    recordHistory: async (input) => {
      histories.push({ timeline: input.timeline, content: input.content });
    },
    historiesOf: async () => histories,
    latestDurable: async () => {
      const newest = [...segments.values()].sort((a, b) =>
        a.timeline !== b.timeline ? a.timeline - b.timeline : Number(a.endLsn - b.endLsn),
      )[segments.size - 1];
      return newest && { timeline: newest.timeline, lsn: newest.endLsn, receivedAt: newest.receivedAt };
    },
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** N commits, each timed from the client; returns the sorted latencies in milliseconds. */
async function timeCommits(target: PgTarget): Promise<number[]> {
  const client = await connect('bench', target);
  try {
    await client.query('create table if not exists commits (id bigserial primary key, at timestamptz, note text)');
    const latencies: number[] = [];
    for (let i = 0; i < commits; i++) {
      const started = performance.now();
      await client.query(`insert into commits (at, note) values (clock_timestamp(), 'one row')`);
      latencies.push(performance.now() - started);
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await client.end();
  }
}

/** Streams with the receiver in one mode while the commits run; waits until it streams first. */
async function measure(cluster: LocalCluster, root: string, synchronous: boolean): Promise<number[]> {
  const target = cluster.target('postgres');
  const stop = new AbortController();
  let status: ReceiverStatus | undefined;
  const running = runWalReceiver({
    database: 'bench',
    target,
    slot: 'hindsight_bench',
    spoolDir: path.join(root, synchronous ? 'spool-sync' : 'spool-async'),
    storageName: 'bench',
    driver: createStorageDriver('bench', { type: 'local', path: path.join(root, 'storage') }),
    key: generateSecretKey(),
    catalog: memoryCatalog(),
    notify: async () => undefined,
    logger: createLogger('bench'),
    partialIntervalMs: 1000,
    slotMaxBytes: null,
    synchronous,
    signal: stop.signal,
    onStatus: (s) => (status = s),
  });
  const admin = await connect('bench', target);
  try {
    const deadline = Date.now() + 60_000;
    while (status?.state !== 'streaming' || status.durableLsn === null) {
      if (Date.now() > deadline) throw new Error(`the receiver did not stream: ${status?.lastError ?? 'no status'}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const names = synchronous ? 'hindsight_bench' : '';
    await admin.query(`alter system set synchronous_standby_names = '${names}'`);
    await admin.query('select pg_reload_conf()');
    return await timeCommits(target);
  } finally {
    await admin.query(`alter system reset synchronous_standby_names`).catch(() => undefined);
    await admin.query('select pg_reload_conf()').catch(() => undefined);
    await admin.end();
    stop.abort();
    await running;
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hindsight-bench-sync-'));
  // The server runs as its own OS user when this runs as root: it must reach its data directory.
  await chmod(root, 0o755);
  const cluster = await openLocalCluster({ dataDir: path.join(root, 'pg'), port: await freePort(), major });
  try {
    await cluster.start();
    log(`PostgreSQL ${major}, ${commits} single-row commits per mode, synchronous_commit = on`);
    const results: Record<string, number[]> = {};
    for (const mode of ['async', 'synchronous'] as const) {
      results[mode] = await measure(cluster, root, mode === 'synchronous');
      const l = results[mode];
      log(`${mode}: p50 ${percentile(l, 50).toFixed(2)} ms, p99 ${percentile(l, 99).toFixed(2)} ms`);
    }
    const [a, s] = [results.async!, results.synchronous!];
    console.log(`| | p50 | p99 |\n| --- | --- | --- |`);
    console.log(
      `| asynchronous (pg_receivewal) | ${percentile(a, 50).toFixed(2)} ms | ${percentile(a, 99).toFixed(2)} ms |`,
    );
    console.log(
      `| synchronous (confirmed once in storage) | ${percentile(s, 50).toFixed(2)} ms | ${percentile(s, 99).toFixed(2)} ms |`,
    );
    console.log(
      `| ratio synchronous / asynchronous | ${(percentile(s, 50) / percentile(a, 50)).toFixed(1)}× | ${(percentile(s, 99) / percentile(a, 99)).toFixed(1)}× |`,
    );
  } finally {
    await cluster.stop('immediate').catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
