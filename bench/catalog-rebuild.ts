/**
 * How long `hindsight catalog rebuild` spends reading a storage, for 1 000 and 10 000 objects on
 * local storage: a quarter logical backups (manifest and dump), half WAL segments described by index
 * batches, the rest partial segments read from their own bytes (decrypt, `zstd -d`, hash). The
 * objects are tiny, so the time is the rebuild's own per-object work: listing, reading manifests and
 * records, proving headers with the key, decoding. The catalog writes are left out (one insert per
 * row, the same as any row). Prints the total and the time per object.
 *
 *   scripts/node bench/catalog-rebuild.ts        (BENCH_REBUILD_SIZES=1000,10000 by default)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { planRebuild } from '../lib/catalog/rebuild/plan.ts';
import { readStorage } from '../lib/catalog/rebuild/read-storage.ts';
import { EncryptStream } from '../lib/crypto/chunked-gcm.ts';
import { logicalBackupIdentity } from '../lib/crypto/object-identity.ts';
import { generateSecretKey, type SecretKey } from '../lib/crypto/secret-key.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createLocalStorage } from '../lib/storage/local/driver.ts';
import { partialKey, segmentKey } from '../lib/wal/archive-keys.ts';
import { walIndexKey, writeRecord, type WalIndexEntry } from '../lib/wal/archive-records.ts';
import { formatLsn, segmentName } from '../lib/wal/lsn.ts';
import { encodeWalFile } from '../lib/wal/segment-codec.ts';

const SYSID = '7000000000000000001';
const SEGMENT = 16 << 20;

async function put(driver: StorageDriver, key: string, bytes: Buffer): Promise<void> {
  const write = await driver.openWrite(key);
  await pipeline(Readable.from([bytes]), write.stream);
  await write.commit();
}

async function sealed(key: SecretKey, database: string, id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const encrypt = new EncryptStream(key, { identity: logicalBackupIdentity(database, id) });
  encrypt.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(Readable.from([randomBytes(64)]), encrypt);
  return Buffer.concat(chunks);
}

async function writeLogical(driver: StorageDriver, key: SecretKey, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const id = `20260101T${String(i).padStart(6, '0')}Z-${i.toString(16).padStart(6, '0')}`;
    const object = await sealed(key, 'bench', id);
    await put(driver, `bench/${id}.dump.hsb`, object);
    const manifest = {
      format: 'hindsight-logical-backup',
      formatVersion: 1,
      backupId: id,
      database: 'bench',
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: '2026-01-01T00:00:01Z',
      source: { host: 'db', port: 5432, database: 'bench', serverVersion: '17.2', sizeBytes: 1 },
      tool: { name: 'pg_dump', version: '17.2', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
      snapshot: 's',
      dump: { sizeBytes: 64, sha256: '0'.repeat(64) },
      object: { key: `bench/${id}.dump.hsb`, sizeBytes: object.length, sha256: '0'.repeat(64) },
      encryption: {
        format: 'HSBK',
        version: 2,
        algorithm: 'AES-256-GCM',
        kdf: 'HKDF-SHA256',
        keyId: key.id,
        chunkSize: 1 << 20,
        header: '',
      },
      tables: [],
    };
    await put(driver, `bench/${id}.json`, Buffer.from(JSON.stringify(manifest)));
  }
}

/** `count` segment objects (tiny stand-ins: an index batch is trusted for their content) in batches of 16. */
async function writeIndexed(driver: StorageDriver, key: SecretKey, count: number): Promise<void> {
  for (let first = 1; first <= count; first += 16) {
    const entries: WalIndexEntry[] = [];
    for (let segno = first; segno < Math.min(first + 16, count + 1); segno += 1) {
      const name = segmentName(1, BigInt(segno), SEGMENT);
      const objectKey = segmentKey(SYSID, name);
      await put(driver, objectKey, randomBytes(100));
      const start = BigInt(segno) * BigInt(SEGMENT);
      entries.push({
        name,
        startLsn: formatLsn(start),
        endLsn: formatLsn(start + BigInt(SEGMENT)),
        sizeBytes: SEGMENT,
        sha256: '0'.repeat(64),
        storedBytes: 100,
        objectKey,
        receivedAt: '2026-01-01T00:00:00Z',
      });
    }
    const batch = {
      format: 'hindsight-wal-index' as const,
      formatVersion: 1 as const,
      database: 'bench',
      systemIdentifier: SYSID,
      timeline: 1,
      walSegmentSizeBytes: SEGMENT,
      segments: entries,
    };
    await writeRecord(driver, walIndexKey(SYSID, 1, entries[0]!.name, entries.at(-1)!.name), batch, key);
  }
}

/** `count` partial segments past the indexed ones, each read from its own bytes. */
async function writePartials(dir: string, driver: StorageDriver, key: SecretKey, from: number, count: number) {
  const file = path.join(dir, 'partial');
  await writeFile(file, randomBytes(200));
  for (let i = 0; i < count; i += 1)
    await encodeWalFile({ file, driver, objectKey: partialKey(SYSID, segmentName(1, BigInt(from + i), SEGMENT)), key });
}

async function benchOne(total: number): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-rebuild-'));
  try {
    const driver = createLocalStorage({ name: 'bench', root: path.join(dir, 'store') });
    const key = generateSecretKey();
    const backups = Math.floor(total / 8);
    const indexed = Math.floor(total / 2);
    const partials = total - backups * 2 - indexed;
    await writeLogical(driver, key, backups);
    await writeIndexed(driver, key, indexed);
    await writePartials(dir, driver, key, indexed + 1, partials);
    const objects = (await driver.list('')).length;
    const started = process.hrtime.bigint();
    const findings = await readStorage({ name: 'bench', driver }, key);
    const plan = planRebuild(findings, new Set(), new Set());
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const segments = plan.archives.reduce((n, a) => n + a.segmentGroups.flat().length, 0);
    process.stdout.write(
      `${objects} objects: ${plan.backups.length} backups, ${segments} segments (${findings.archives[0]?.fromIndex ?? 0} from the index, ${findings.archives[0]?.byReading ?? 0} read), ${findings.unreadable.length} unreadable; ${(ms / 1000).toFixed(2)} s, ${(ms / objects).toFixed(2)} ms per object\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const sizes = (process.env.BENCH_REBUILD_SIZES ?? '1000,10000').split(',').map(Number);
for (const size of sizes) await benchOne(size);
