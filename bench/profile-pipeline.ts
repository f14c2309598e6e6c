/**
 * Where the time of a Hindsight backup goes, outside Temporal: variants that isolate the parts of
 * lib/backup/dump.ts (row counts; hashing, encryption and the file), the whole of it, and the same
 * stages with bench/lean-encrypt.ts. The process carries a heap about as large as the worker's,
 * because the cost of garbage collection grows with it. Same dataset generator as the benchmark.
 * Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2), PROFILE_HEAP_MIB (default 60).
 *
 *   node --import tsx bench/profile-pipeline.ts
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { ByteMeter } from '../lib/backup/byte-meter.ts';
import { streamDumpToStorage } from '../lib/backup/dump.ts';
import { DecryptStream, EncryptStream } from '../lib/crypto/chunked-gcm.ts';
import { secretKeyFromBytes } from '../lib/crypto/secret-key.ts';
import type { LocalCluster } from '../lib/pg/cluster.ts';
import { connect, libpqEnv, type PgTarget } from '../lib/pg/connection.ts';
import { countRows } from '../lib/pg/row-counts.ts';
import { dumpCompressionFor, toolFor } from '../lib/pg/tools.ts';
import { createLocalStorage } from '../lib/storage/local.ts';
import { createDatabase, startTestCluster } from '../test/support/platform.ts';
import { generateDataset } from './dataset.ts';
import { LeanEncryptStream } from './lean-encrypt.ts';

const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const heapMib = Number(process.env.PROFILE_HEAP_MIB ?? 60);
const key = secretKeyFromBytes(randomBytes(32));

/** A sink that keeps only statistics: how many chunks, how many bytes. */
const chunkStats = { chunks: 0, bytes: 0 };
const discard = () => new Writable({
  write(chunk: Buffer, _encoding, callback) {
    chunkStats.chunks += 1;
    chunkStats.bytes += chunk.length;
    callback();
  },
});

/** pg_dump through `stages` into `sink`, optionally in an exported snapshot (as dump.ts does). */
async function dumpThrough(target: PgTarget, flag: string, stages: NodeJS.ReadWriteStream[], sink: NodeJS.WritableStream, snapshot?: string): Promise<void> {
  const pgDump = await toolFor('pg_dump');
  const args = ['--format=custom', flag, '--no-password', ...(snapshot ? [`--snapshot=${snapshot}`] : [])];
  const child = spawn(pgDump.path, args, { env: { ...process.env, ...libpqEnv(target) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await pipeline([child.stdout as Readable, ...stages, sink]);
  if ((await exited) !== 0) throw new Error('pg_dump failed');
}

async function inSnapshot<T>(target: PgTarget, work: (client: pg.Client, snapshot: string) => Promise<T>): Promise<T> {
  const client = await connect('profile', target);
  try {
    await client.query('begin isolation level repeatable read read only');
    const snapshot = (await client.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]!.id;
    const result = await work(client, snapshot);
    await client.query('commit');
    return result;
  } finally {
    await client.end();
  }
}

type Variant = { name: string; run: (target: PgTarget, flag: string, dir: string) => Promise<void> };

/** dump.ts's stages without the row counts: hash, encrypt, hash, file, fsync. */
async function dumpToFile(t: PgTarget, f: string, dir: string, encrypt: NodeJS.ReadWriteStream): Promise<void> {
  const file = path.join(dir, `object-${randomBytes(4).toString('hex')}`);
  await dumpThrough(t, f, [new ByteMeter(), encrypt, new ByteMeter()], createWriteStream(file));
  const handle = await open(file, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
  await rm(file);
}

const variants: Variant[] = [
  { name: 'pg_dump -> /dev/null', run: (t, f) => dumpThrough(t, f, [], discard()) },
  {
    name: '+ row counts in the same snapshot',
    run: (t, f) => inSnapshot(t, async (client, snapshot) => { await Promise.all([countRows(client), dumpThrough(t, f, [], discard(), snapshot)]); }),
  },
  { name: 'sha256 + EncryptStream + file + fsync', run: (t, f, dir) => dumpToFile(t, f, dir, new EncryptStream(key)) },
  { name: 'sha256 + LeanEncryptStream + file + fsync', run: (t, f, dir) => dumpToFile(t, f, dir, new LeanEncryptStream(key)) },
  {
    name: 'streamDumpToStorage (all of dump.ts)',
    run: async (t, _f, dir) => {
      const storage = createLocalStorage({ name: 'profile', root: dir });
      const manifest = await streamDumpToStorage({ databaseName: 'profile', backupId: `b${randomBytes(4).toString('hex')}`, target: t, storage, key });
      await rm(path.join(dir, manifest.object.key));
    },
  },
];

/** The lean encryptor must write what DecryptStream reads back, at every chunk boundary. */
async function checkLeanEncryptor(): Promise<void> {
  const chunkSize = 1024;
  for (const size of [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3.5 * chunkSize]) {
    const plain = randomBytes(size);
    const pieces: Buffer[] = [];
    for (let at = 0; at < size;) {
      const n = 1 + Math.floor(Math.random() * 700);
      pieces.push(plain.subarray(at, at + n));
      at += n;
    }
    const out: Buffer[] = [];
    await pipeline(Readable.from(pieces), new LeanEncryptStream(key, { chunkSize }), new DecryptStream(key), new Writable({
      write(chunk: Buffer, _e, cb) { out.push(chunk); cb(); },
    }));
    if (!Buffer.concat(out).equals(plain)) throw new Error(`LeanEncryptStream round trip failed at ${size} bytes`);
  }
}

/**
 * The worker holds some 60 MiB of live heap (Temporal SDK, workflow bundle, catalog); a bare
 * script holds a few. Every full GC walks all of it, so the pipeline is measured with as much.
 */
function heapBallast(mib: number): unknown[] {
  const ballast: unknown[] = [];
  for (let i = 0; i < mib * 4_400; i++) ballast.push({ id: i, name: `object-${i}`, tags: [i, i + 1] });
  return ballast;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hindsight-profile-'));
  await chmod(dir, 0o755);
  let cluster: LocalCluster | undefined;
  try {
    cluster = await startTestCluster(dir);
    const target = await createDatabase(cluster, 'profile');
    const clients = await Promise.all([connect('profile', target), connect('profile', target)]);
    const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
    const { flag } = dumpCompressionFor((await toolFor('pg_dump')).major);
    console.log(`database ${(dataset.sizeBytes / 2 ** 20).toFixed(1)} MiB, ${flag}, ${os.availableParallelism()} CPUs`);
    await variants[0]!.run(target, flag, dir); // warm the cache
    console.log(`pg_dump's stdout as Node reads it: ${chunkStats.chunks} chunks, ${(chunkStats.bytes / chunkStats.chunks / 1024).toFixed(1)} KiB on average`);

    await checkLeanEncryptor();
    const ballast = heapBallast(heapMib);
    console.log(`live heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB (ballast of ${ballast.length} objects)`);

    const gcs = { major: 0, ms: 0 };
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcs.ms += e.duration;
        if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major += 1;
      }
    });
    observer.observe({ entryTypes: ['gc'] });

    type Sample = { wall: number; nodeCpu: number; majorGcs: number; gcMs: number; rssGrowthMib: number };
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const rssBefore = process.memoryUsage.rss();
        let rssPeak = rssBefore;
        const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage.rss()); }, 50);
        const gcBefore = { ...gcs };
        const cpu = process.cpuUsage();
        const started = performance.now();
        await v.run(target, flag, dir);
        const wall = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        clearInterval(sampler);
        await new Promise((r) => setTimeout(r, 100)); // let the gc observer deliver
        const sample: Sample = {
          wall, nodeCpu: (used.user + used.system) / 1e6, majorGcs: gcs.major - gcBefore.major, gcMs: gcs.ms - gcBefore.ms,
          rssGrowthMib: (rssPeak - rssBefore) / 2 ** 20,
        };
        samples.set(v.name, [...(samples.get(v.name) ?? []), sample]);
        console.log(`  ${v.name.padEnd(42)} ${wall.toFixed(2)} s wall, ${sample.nodeCpu.toFixed(2)} s Node CPU, ` +
          `${sample.majorGcs} major GCs (${sample.gcMs.toFixed(0)} ms in GC), RSS +${sample.rssGrowthMib.toFixed(1)} MiB`);
      }
    }
    observer.disconnect();
    const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
    const base = median(samples.get(variants[0]!.name)!.map((t) => t.wall));
    console.log('\nmedians, wall time relative to bare pg_dump:');
    for (const v of variants) {
      const list = samples.get(v.name)!;
      const wall = median(list.map((t) => t.wall));
      console.log(`  ${v.name.padEnd(42)} ${wall.toFixed(2)} s  x${(wall / base).toFixed(3)}  Node CPU ${median(list.map((t) => t.nodeCpu)).toFixed(2)} s  ` +
        `major GCs ${median(list.map((t) => t.majorGcs))}  RSS +${Math.max(...list.map((t) => t.rssGrowthMib)).toFixed(1)} MiB`);
    }
    ballast.length = 0;
  } finally {
    await cluster?.stop('immediate').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(1); });
