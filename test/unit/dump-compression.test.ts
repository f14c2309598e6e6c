import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { constants, zstdCompressSync } from 'node:zlib';
import { dumpCompressionPlan, manifestCompression } from '../../lib/backup/compress.ts';
import { ArchiveDecoder } from '../../lib/backup/compress-decoder.ts';
import { spawnDumpProcess } from '../../lib/backup/compress-process.ts';
import { compressedWhere, manifestSchema } from '../../lib/backup/manifest.ts';

/** A pg_dump custom archive's first bytes, then enough varied text to be worth compressing. */
const archive = Buffer.concat([
  Buffer.from('PGDMP\x01\x0f\x00', 'latin1'),
  Buffer.from(Array.from({ length: 40_000 }, (_, i) => `row ${i} ${i % 7 === 0 ? 'fragile' : 'standard'}\n`).join('')),
]);

async function decode(input: Buffer[], options: { expected?: 'inside' | 'outside' } = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), new ArchiveDecoder({ ...options, what: 'object t' }), async (source) => {
    for await (const chunk of source) out.push(chunk as Buffer);
  });
  return Buffer.concat(out);
}

/** Cuts a buffer into pieces of `size` bytes, as a stream delivers them. */
const pieces = (data: Buffer, size: number): Buffer[] =>
  Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

describe('where a dump is compressed', () => {
  it('outside pg_dump by default where pg_dump would gzip: zstd 5 over an uncompressed archive', () => {
    for (const major of [13, 14, 15]) {
      const plan = dumpCompressionPlan(major);
      assert.equal(plan.where, 'outside');
      assert.equal(plan.pgDumpFlag, '--compress=0');
      assert.deepEqual(plan.zstdArgs, ['-5', '-T2', '-q', '-c']);
      assert.deepEqual(manifestCompression(plan), { algorithm: 'zstd', level: 5, where: 'outside' });
    }
  });

  it('inside by default from pg_dump 16, whose own zstd 5 measured smaller and cheaper', () => {
    for (const major of [16, 17, 18]) {
      const plan = dumpCompressionPlan(major);
      assert.deepEqual([plan.where, plan.pgDumpFlag, plan.zstdArgs], ['inside', '--compress=zstd:5', undefined]);
      assert.deepEqual(manifestCompression(plan), { algorithm: 'zstd', level: 5, where: 'inside' });
    }
    assert.equal(dumpCompressionPlan(17, 'outside').pgDumpFlag, '--compress=0', 'outside on request');
  });

  it('inside, on request, as pg_dump did it before: gzip 5 before 16, zstd 5 from 16, no zstd process', () => {
    assert.deepEqual(dumpCompressionPlan(15, 'inside'), {
      algorithm: 'gzip',
      level: 5,
      where: 'inside',
      pgDumpFlag: '--compress=5',
      zstdArgs: undefined,
    });
    const plan17 = dumpCompressionPlan(17, 'inside');
    assert.equal(plan17.pgDumpFlag, '--compress=zstd:5');
    assert.deepEqual(manifestCompression(plan17), { algorithm: 'zstd', level: 5, where: 'inside' });
  });
});

describe('the manifest records where', () => {
  const base = {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: '20261123T103000Z-3f9a1c',
    database: 'orders',
    startedAt: '2026-11-23T10:30:00.000Z',
    finishedAt: '2026-11-23T10:31:00.000Z',
    source: { host: 'db', port: 5432, database: 'orders', serverVersion: '15.18', sizeBytes: 1 },
    snapshot: '00000003-00000002-1',
    dump: { sizeBytes: 1, sha256: 'a'.repeat(64) },
    object: { key: 'orders/20261123T103000Z-3f9a1c.dump.hsb', sizeBytes: 1, sha256: 'b'.repeat(64) },
    encryption: {
      format: 'HSBK',
      version: 2,
      algorithm: 'AES-256-GCM',
      kdf: 'HKDF-SHA256',
      keyId: 'b52bf79cfece87d9',
      chunkSize: 1048576,
      header: '',
    },
    tables: [],
  };
  const withCompression = (compression: object) => ({
    ...base,
    tool: { name: 'pg_dump', version: '15.18', format: 'custom', compression },
  });

  it('a manifest written before the field existed stays valid and means inside', () => {
    const old = manifestSchema.parse(withCompression({ algorithm: 'gzip', level: 5 }));
    assert.equal(compressedWhere(old), 'inside');
  });

  it('outside is zstd; any other algorithm outside is refused', () => {
    const outside = manifestSchema.parse(withCompression({ algorithm: 'zstd', level: 5, where: 'outside' }));
    assert.equal(compressedWhere(outside), 'outside');
    const gzipOutside = manifestSchema.safeParse(withCompression({ algorithm: 'gzip', level: 5, where: 'outside' }));
    assert.equal(gzipOutside.success, false);
    assert.match(gzipOutside.error!.issues[0]!.message, /compressed with zstd/);
    assert.equal(
      manifestSchema.safeParse(withCompression({ algorithm: 'zstd', level: 5, where: 'aside' })).success,
      false,
    );
  });
});

describe('the archive decoder every reader uses', () => {
  it('passes a pg_dump archive through unchanged, however it is cut', async () => {
    assert.deepEqual(await decode(pieces(archive, 3)), archive);
    assert.deepEqual(await decode([archive], { expected: 'inside' }), archive);
  });

  it('decompresses a zstd stream back to the archive, from pieces smaller than the magic', async () => {
    const compressed = zstdCompressSync(archive);
    assert.ok(compressed.length < archive.length / 3);
    assert.deepEqual(await decode(pieces(compressed, 3)), archive);
    assert.deepEqual(await decode(pieces(compressed, 65536), { expected: 'outside' }), archive);
  });

  it('refuses a plaintext that is not what the manifest says', async () => {
    await assert.rejects(decode([archive], { expected: 'outside' }), /manifest says .* outside pg_dump.*not zstd/);
    await assert.rejects(decode([zstdCompressSync(archive)], { expected: 'inside' }), /inside pg_dump.*a zstd stream/);
  });

  it('fails on a cut-off or damaged zstd stream instead of ending quietly', async () => {
    // The zstd program writes a checksum into every frame (its default): so does this.
    const compressed = zstdCompressSync(archive, { params: { [constants.ZSTD_c_checksumFlag]: 1 } });
    await assert.rejects(decode([compressed.subarray(0, compressed.length - 20)]), /zstd stream is damaged/);
    const damaged = Buffer.from(compressed);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await assert.rejects(decode([damaged]), /zstd stream is damaged/);
  });

  it('an empty plaintext stays empty', async () => {
    assert.equal((await decode([])).length, 0);
  });
});

describe('pg_dump piped into zstd', () => {
  it('compresses what the dump program writes, and the decoder gives it back byte for byte', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dump-compression-'));
    const file = path.join(dir, 'archive');
    await writeFile(file, archive);
    // A stand-in for pg_dump: a program that writes the archive on its stdout.
    const child = spawnDumpProcess('cat', [file], { PATH: process.env.PATH }, dumpCompressionPlan(15));
    const stored: Buffer[] = [];
    for await (const chunk of child.stdout) stored.push(chunk as Buffer);
    await rm(dir, { recursive: true });
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(await child.compressor, undefined);
    const compressed = Buffer.concat(stored);
    assert.equal(compressed.subarray(0, 4).toString('hex'), '28b52ffd');
    assert.ok(compressed.length < archive.length / 3, `${compressed.length} bytes`);
    assert.deepEqual(await decode([compressed], { expected: 'outside' }), archive);
  });

  it('a dump program that fails is reported by its exit, and zstd still ends', async () => {
    const child = spawnDumpProcess(
      process.execPath,
      ['-e', "process.stderr.write('pg_dump: error: permission denied for table t\\n'); process.exit(1)"],
      { PATH: process.env.PATH },
      dumpCompressionPlan(17, 'outside'),
    );
    for await (const _ of child.stdout);
    assert.equal((await child.exited).code, 1);
    assert.match(child.stderr(), /permission denied/);
    assert.equal(await child.compressor, undefined);
  });
});
