/**
 * Where the time of a Hindsight backup goes, stage by stage, outside Temporal: each variant adds
 * one part of lib/backup/dump.ts to a bare pg_dump. Same dataset generator as the benchmark.
 * Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2).
 *
 *   node --import tsx bench/profile-pipeline.ts
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { ByteMeter } from '../lib/backup/byte-meter.ts';
import { streamDumpToStorage } from '../lib/backup/dump.ts';
import { EncryptStream } from '../lib/crypto/chunked-gcm.ts';
import { secretKeyFromBytes } from '../lib/crypto/secret-key.ts';
import type { LocalCluster } from '../lib/pg/cluster.ts';
import { connect, libpqEnv, type PgTarget } from '../lib/pg/connection.ts';
import { countRows } from '../lib/pg/row-counts.ts';
import { dumpCompressionFor, toolFor } from '../lib/pg/tools.ts';
import { createLocalStorage } from '../lib/storage/local.ts';
import { createDatabase, startTestCluster } from '../test/support/platform.ts';
import { generateDataset } from './dataset.ts';

const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
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

/** Gathers small reads into large chunks, so the stages after it run once per MiB, not per pipe read. */
class Coalesce extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly target = 1024 * 1024) { super(); }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.target) this.release();
    callback();
  }
  override _flush(callback: TransformCallback): void {
    if (this.size > 0) this.release();
    callback();
  }
  private release(): void {
    this.push(Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}

/** pg_dump into `stages`, optionally in a snapshot exported by `client` (as dump.ts does). */
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

const variants: Variant[] = [
  { name: 'pg_dump -> /dev/null', run: (t, f) => dumpThrough(t, f, [], discard()) },
  {
    name: '+ row counts in the same snapshot',
    run: (t, f) => inSnapshot(t, async (client, snapshot) => { await Promise.all([countRows(client), dumpThrough(t, f, [], discard(), snapshot)]); }),
  },
  { name: '+ sha256 + AES-GCM (no counts, no disk)', run: (t, f) => dumpThrough(t, f, [new ByteMeter(), new EncryptStream(key), new ByteMeter()], discard()) },
  {
    name: '  same, reads coalesced to 1 MiB first',
    run: (t, f) => dumpThrough(t, f, [new Coalesce(), new ByteMeter(), new EncryptStream(key), new ByteMeter()], discard()),
  },
  {
    name: '+ write to a file + fsync (no counts)',
    run: async (t, f, dir) => {
      const file = path.join(dir, `object-${randomBytes(4).toString('hex')}`);
      await dumpThrough(t, f, [new ByteMeter(), new EncryptStream(key), new ByteMeter()], createWriteStream(file));
      const handle = await open(file, 'r');
      try { await handle.sync(); } finally { await handle.close(); }
      await rm(file);
    },
  },
  {
    name: 'streamDumpToStorage (all of dump.ts)',
    run: async (t, _f, dir) => {
      const storage = createLocalStorage({ name: 'profile', root: dir });
      const manifest = await streamDumpToStorage({ databaseName: 'profile', backupId: `b${randomBytes(4).toString('hex')}`, target: t, storage, key });
      await rm(path.join(dir, manifest.object.key));
    },
  },
];

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

    const times = new Map<string, Array<{ wall: number; nodeCpu: number }>>();
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        await v.run(target, flag, dir);
        const wall = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        const entry = { wall, nodeCpu: (used.user + used.system) / 1e6 };
        times.set(v.name, [...(times.get(v.name) ?? []), entry]);
        console.log(`  ${v.name.padEnd(42)} ${wall.toFixed(2)} s wall, ${entry.nodeCpu.toFixed(2)} s Node CPU`);
      }
    }
    const base = Math.min(...times.get(variants[0]!.name)!.map((t) => t.wall));
    console.log('\nbest of rounds, relative to bare pg_dump:');
    for (const v of variants) {
      const best = Math.min(...times.get(v.name)!.map((t) => t.wall));
      console.log(`  ${v.name.padEnd(42)} ${best.toFixed(2)} s  x${(best / base).toFixed(3)}`);
    }
  } finally {
    await cluster?.stop('immediate').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(1); });
