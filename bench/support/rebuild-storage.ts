/**
 * A local storage as Hindsight leaves it after a while, `total` objects of the real mix, for the
 * catalog rebuild benchmark: logical backups of four databases (encrypted dump and manifest, 20 %),
 * one PITR archive with base backups (record and tar, 1 %), WAL segments described by hourly index
 * batches of 60 (most of it), the complete segments since the last batch (at most 60: what an
 * archiver ships in an hour), partial segments (1 %) and two timeline histories.
 *
 * Objects are written straight into the storage's directory (the local driver's layout) with the
 * real formats: chunked AES-256-GCM bound to each object's identity, zstd for WAL objects, sealed
 * archive records. Segments an index batch describes are small stand-ins (the rebuild trusts the
 * authenticated batch and never opens them); those it must read decode to the full 16 MiB.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { zstdCompressSync } from 'node:zlib';
import { chunked, mapBounded } from '../../lib/catalog/rebuild/bounded.ts';
import { EncryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { logicalBackupIdentity, pitrObjectIdentity, type ObjectIdentity } from '../../lib/crypto/object-identity.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import { baseBackupKey, historyKey, partialKey, segmentKey } from '../../lib/wal/archive-keys.ts';
import { baseBackupRecordKey, sealRecord, walIndexKey, type WalIndexEntry } from '../../lib/wal/archive-records.ts';
import { formatHistoryFile, formatLsn, segmentName } from '../../lib/wal/lsn.ts';

export const SYSID = '7300000000000000001';
export const ARCHIVE_OWNER = 'ledger';
const SEGMENT = 16 << 20;
const BATCH = 60;
const LOGICAL_DATABASES = ['shop', 'crm', 'billing', 'events'];

/** How many objects of each kind, and the catalog rows a rebuild of them must write. */
export interface StorageMix {
  backups: number;
  baseBackups: number;
  indexed: number;
  batches: number;
  loose: number;
  partials: number;
  histories: number;
  objects: number;
}

export function mixFor(total: number): StorageMix {
  const backups = Math.round(total * 0.1);
  const baseBackups = Math.max(2, Math.round(total * 0.005));
  const partials = Math.max(1, Math.round(total * 0.01));
  const loose = Math.min(60, Math.max(1, Math.round(total * 0.005)));
  const histories = 2;
  const rest = total - 2 * backups - 2 * baseBackups - partials - loose - histories;
  const batches = Math.ceil(rest / (BATCH + 1));
  const indexed = rest - batches;
  const objects = 2 * backups + 2 * baseBackups + indexed + batches + loose + partials + histories;
  return { backups, baseBackups, indexed, batches, loose, partials, histories, objects };
}

/** Raw bytes in the shape of WAL: some record text, then the zero padding of a switched segment. */
function walBytes(size: number): Buffer {
  const raw = Buffer.alloc(size);
  const text = Buffer.from('INSERT INTO shipments (id, status, note) VALUES ($1, $2, $3) -- lsn page\n');
  for (let at = 0; at < Math.min(size, 256 << 10); at += text.length) text.copy(raw, at);
  randomBytes(Math.min(size, 8192)).copy(raw, 0);
  return raw;
}

async function seal(key: SecretKey, identity: ObjectIdentity, plain: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const encrypt = new EncryptStream(key, { identity });
  encrypt.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(Readable.from([plain]), encrypt);
  return Buffer.concat(chunks);
}

export class StorageWriter {
  readonly root: string;
  readonly key: SecretKey;
  private readonly dirs = new Set<string>();

  constructor(root: string, key: SecretKey) {
    this.root = root;
    this.key = key;
  }

  async put(objectKey: string, bytes: Buffer): Promise<void> {
    const file = path.join(this.root, ...objectKey.split('/'));
    const dir = path.dirname(file);
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    await writeFile(file, bytes);
  }

  /** A zstd-compressed, encrypted WAL object under its own key as identity. */
  async putWal(objectKey: string, compressed: Buffer): Promise<void> {
    await this.put(objectKey, await seal(this.key, pitrObjectIdentity(objectKey), compressed));
  }
}

function manifestOf(database: string, id: string, i: number, object: Buffer, key: SecretKey) {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString();
  return {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: id,
    database,
    startedAt: at,
    finishedAt: at,
    source: { host: 'db.internal', port: 5432, database, serverVersion: '17.2', sizeBytes: 1 << 30 },
    tool: { name: 'pg_dump', version: '17.2', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
    snapshot: '00000003-00000002-1',
    dump: { sizeBytes: 4096, sha256: i.toString(16).padStart(64, '0') },
    object: { key: `${database}/${id}.dump.hsb`, sizeBytes: object.length, sha256: '0'.repeat(64) },
    encryption: {
      format: 'HSBK',
      version: 2,
      algorithm: 'AES-256-GCM',
      kdf: 'HKDF-SHA256',
      keyId: key.id,
      chunkSize: 1 << 20,
      header: '',
    },
    tables: [{ schema: 'public', table: 'shipments', rows: 1000 + i }],
  };
}

async function writeLogical(out: StorageWriter, count: number): Promise<void> {
  const dump = walBytes(4096);
  await mapBounded(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const database = LOGICAL_DATABASES[i % LOGICAL_DATABASES.length]!;
      const id = `20260101T${String(i).padStart(6, '0')}Z-${i.toString(16).padStart(6, '0')}`;
      const object = await seal(out.key, logicalBackupIdentity(database, id), dump);
      await out.put(`${database}/${id}.dump.hsb`, object);
      await out.put(
        `${database}/${id}.json`,
        Buffer.from(JSON.stringify(manifestOf(database, id, i, object, out.key))),
      );
    },
  );
}

function baseRecord(id: string, i: number) {
  const start = BigInt(1 + i) * BigInt(SEGMENT);
  const at = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
  return {
    format: 'hindsight-base-backup' as const,
    formatVersion: 1 as const,
    id,
    database: ARCHIVE_OWNER,
    systemIdentifier: SYSID,
    timeline: 1,
    startLsn: formatLsn(start + 40n),
    stopLsn: formatLsn(start + 4096n),
    startedAt: at,
    finishedAt: at,
    serverVersionNum: 170002,
    walSegmentSizeBytes: SEGMENT,
    takenFrom: 'primary' as const,
    kind: 'full' as const,
    parentId: null,
    tar: { sizeBytes: 1 << 30, sha256: 'c'.repeat(64) },
    object: { key: baseBackupKey(SYSID, id), sizeBytes: 512, sha256: 'd'.repeat(64) },
    backupManifest: null,
  };
}

async function writeBaseBackups(out: StorageWriter, count: number): Promise<void> {
  await mapBounded(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const id = `20260101T000000Z-base${String(i).padStart(6, '0')}`;
      const recordKey = baseBackupRecordKey(SYSID, id);
      await out.put(baseBackupKey(SYSID, id), randomBytes(512));
      await out.put(recordKey, (await sealRecord(recordKey, baseRecord(id, i), out.key)).bytes);
    },
  );
}

/** Segments 1..count on timeline 1, stand-ins described by index batches of BATCH. */
async function writeIndexed(out: StorageWriter, count: number): Promise<void> {
  const segnos = Array.from({ length: count }, (_, i) => i + 1);
  await mapBounded(chunked(segnos, BATCH), 4, async (batchSegnos) => {
    const entries: WalIndexEntry[] = [];
    for (const segno of batchSegnos) {
      const name = segmentName(1, BigInt(segno), SEGMENT);
      const objectKey = segmentKey(SYSID, name);
      const stored = randomBytes(96);
      await out.put(objectKey, stored);
      const start = BigInt(segno) * BigInt(SEGMENT);
      entries.push({
        name,
        startLsn: formatLsn(start),
        endLsn: formatLsn(start + BigInt(SEGMENT)),
        sizeBytes: SEGMENT,
        sha256: 'e'.repeat(64),
        storedBytes: stored.length,
        objectKey,
        receivedAt: new Date(Date.UTC(2026, 0, 1) + segno * 60_000).toISOString(),
      });
    }
    const batch = {
      format: 'hindsight-wal-index' as const,
      formatVersion: 1 as const,
      database: ARCHIVE_OWNER,
      systemIdentifier: SYSID,
      timeline: 1,
      walSegmentSizeBytes: SEGMENT,
      segments: entries,
    };
    const batchKey = walIndexKey(SYSID, 1, entries[0]!.name, entries.at(-1)!.name);
    await out.put(batchKey, (await sealRecord(batchKey, batch, out.key)).bytes);
  });
}

/** The complete segments past the last batch, then partial segments past those, then two histories. */
async function writeLoose(out: StorageWriter, mix: StorageMix): Promise<void> {
  const segment = zstdCompressSync(walBytes(SEGMENT));
  const partial = zstdCompressSync(walBytes(64 << 10));
  const first = mix.indexed + 1;
  await mapBounded(
    Array.from({ length: mix.loose + mix.partials }, (_, i) => i),
    16,
    async (i) => {
      const name = segmentName(1, BigInt(first + i), SEGMENT);
      if (i < mix.loose) await out.putWal(segmentKey(SYSID, name), segment);
      else await out.putWal(partialKey(SYSID, name), partial);
    },
  );
  for (let timeline = 2; timeline < 2 + mix.histories; timeline += 1) {
    const switches = Array.from({ length: timeline - 1 }, (_, i) => ({
      parentTimeline: i + 1,
      switchLsn: BigInt(first + i) * BigInt(SEGMENT),
      reason: 'no recovery target specified',
    }));
    await out.putWal(historyKey(SYSID, timeline), zstdCompressSync(Buffer.from(formatHistoryFile(switches))));
  }
}

export async function writeStorage(root: string, key: SecretKey, total: number): Promise<StorageMix> {
  const mix = mixFor(total);
  const out = new StorageWriter(root, key);
  await writeLogical(out, mix.backups);
  await writeBaseBackups(out, mix.baseBackups);
  await writeIndexed(out, mix.indexed);
  await writeLoose(out, mix);
  return mix;
}
