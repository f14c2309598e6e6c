/**
 * The catalog rebuild's reading and planning, on a real local storage written with the real
 * writers (chunked AES-256-GCM, zstd, archive records): what is taken, from where, and what is
 * listed as unreadable with its reason.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import type { BackupManifest } from '../../lib/backup/manifest.ts';
import type { FoundArchive, RebuildFindings } from '../../lib/catalog/rebuild/findings.ts';
import { planRebuild } from '../../lib/catalog/rebuild/plan.ts';
import { readStorage } from '../../lib/catalog/rebuild/read-storage.ts';
import { EncryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { logicalBackupIdentity, type ObjectIdentity } from '../../lib/crypto/object-identity.ts';
import { secretKeyFromBytes, type SecretKey } from '../../lib/crypto/secret-key.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { baseBackupRecordKey, walIndexKey, writeRecord, type BaseBackupRecord } from '../../lib/wal/archive-records.ts';
import { historyKey, partialKey, segmentKey } from '../../lib/wal/archive-keys.ts';
import { encodeWalFile } from '../../lib/wal/segment-codec.ts';

const SYSID = '7312345678901234567';
const SEGMENT = 1 << 20;
const sha = (c: string) => c.repeat(64);
const HSBK = { format: 'HSBK', version: 2, algorithm: 'AES-256-GCM', kdf: 'HKDF-SHA256' } as const;
const segName = (n: number, tli = 1) =>
  `${tli.toString(16).padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

function manifestOf(db: string, id: string, object: { sizeBytes: number; sha256: string }, host = 'db.internal') {
  return {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: id,
    database: db,
    startedAt: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T10:30:00.000Z`,
    finishedAt: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T10:30:05.000Z`,
    source: { host, port: 5433, database: 'shop_src', serverVersion: '17.2', sizeBytes: 1000, systemIdentifier: SYSID },
    tool: { name: 'pg_dump', version: '17.2', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
    snapshot: '00000003-00000002-1',
    dump: { sizeBytes: 60, sha256: sha('b') },
    object: { key: `${db}/${id}.dump.hsb`, ...object },
    encryption: { ...HSBK, keyId: 'k1', chunkSize: 1 << 20, header: 'AAAA' },
    tables: [{ schema: 'public', table: 'titles', rows: 7 }],
  } satisfies BackupManifest;
}

function baseRecord(id: string, overrides: Partial<BaseBackupRecord> = {}): BaseBackupRecord {
  return {
    format: 'hindsight-base-backup',
    formatVersion: 1,
    id,
    database: 'shop',
    systemIdentifier: SYSID,
    timeline: 1,
    startLsn: '0/1000028',
    stopLsn: '0/1000100',
    startedAt: '2026-11-23T10:00:00.000Z',
    finishedAt: '2026-11-23T10:00:10.000Z',
    serverVersionNum: 170002,
    walSegmentSizeBytes: SEGMENT,
    takenFrom: 'primary',
    kind: 'full',
    parentId: null,
    tar: { sizeBytes: 10, sha256: sha('c') },
    object: { key: `pitr/${SYSID}/base/${id}.tar.zst.hsb`, sizeBytes: 7, sha256: sha('d') },
    backupManifest: null,
    ...overrides,
  };
}

async function put(driver: StorageDriver, key: string, bytes: Buffer): Promise<void> {
  const write = await driver.openWrite(key);
  await pipeline(Readable.from([bytes]), write.stream);
  await write.commit();
}

/** An encrypted logical backup object carrying `identity`, and its manifest under `db/id.json`. */
async function putBackup(driver: StorageDriver, key: SecretKey, db: string, id: string, identity: ObjectIdentity) {
  const chunks: Buffer[] = [];
  const encrypt = new EncryptStream(key, { identity });
  encrypt.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(Readable.from([randomBytes(300)]), encrypt);
  const bytes = Buffer.concat(chunks);
  await put(driver, `${db}/${id}.dump.hsb`, bytes);
  const manifest = manifestOf(db, id, { sizeBytes: bytes.length, sha256: sha('a') });
  await put(driver, `${db}/${id}.json`, Buffer.from(JSON.stringify(manifest)));
}

async function putSegment(dir: string, driver: StorageDriver, key: SecretKey, objectKey: string, bytes: number) {
  const file = path.join(dir, `in-${path.basename(objectKey)}`);
  await writeFile(file, randomBytes(bytes));
  return encodeWalFile({ file, driver, objectKey, key });
}

/** Three logical backups: one whole, one whose object is another backup's, one under another key. */
async function writeLogicalBackups(driver: StorageDriver, key: SecretKey, otherKey: SecretKey): Promise<void> {
  await putBackup(
    driver,
    key,
    'shop',
    '20261123T103000Z-aaaaaa',
    logicalBackupIdentity('shop', '20261123T103000Z-aaaaaa'),
  );
  // An object copied over another backup's name: the manifest agrees, the header does not.
  await putBackup(
    driver,
    key,
    'shop',
    '20261124T103000Z-bbbbbb',
    logicalBackupIdentity('shop', '20261123T103000Z-aaaaaa'),
  );
  await putBackup(
    driver,
    otherKey,
    'shop',
    '20261125T103000Z-cccccc',
    logicalBackupIdentity('shop', '20261125T103000Z-cccccc'),
  );
}

/**
 * An archive of system SYSID: base backup b1 (and a record of b2, whose object is gone), segments 1
 * and 2 in an index batch, 3 without one, a partial 4, a 5 under another key, a timeline 2 history.
 */
async function writeArchive(dir: string, driver: StorageDriver, key: SecretKey, otherKey: SecretKey): Promise<void> {
  await put(driver, `pitr/${SYSID}/base/b1.tar.zst.hsb`, Buffer.from('tarball'));
  await writeRecord(driver, baseBackupRecordKey(SYSID, 'b1'), baseRecord('b1'), key);
  await writeRecord(
    driver,
    baseBackupRecordKey(SYSID, 'b2'),
    baseRecord('b2', { object: { key: `pitr/${SYSID}/base/b2.tar.zst.hsb`, sizeBytes: 7, sha256: sha('d') } }),
    key,
  );
  const indexed = [];
  for (const n of [1, 2]) {
    const stored = await putSegment(dir, driver, key, segmentKey(SYSID, segName(n)), SEGMENT);
    indexed.push({
      name: segName(n),
      startLsn: `0/${(n * SEGMENT).toString(16).toUpperCase()}`,
      endLsn: `0/${((n + 1) * SEGMENT).toString(16).toUpperCase()}`,
      sizeBytes: stored.rawBytes,
      sha256: stored.rawSha256,
      storedBytes: stored.storedBytes,
      objectKey: segmentKey(SYSID, segName(n)),
      receivedAt: '2026-11-23T10:05:00.000Z',
    });
  }
  const batch = {
    format: 'hindsight-wal-index' as const,
    formatVersion: 1 as const,
    database: 'shop',
    systemIdentifier: SYSID,
    timeline: 1,
    walSegmentSizeBytes: SEGMENT,
    segments: indexed,
  };
  await writeRecord(driver, walIndexKey(SYSID, 1, segName(1), segName(2)), batch, key);
  await putSegment(dir, driver, key, segmentKey(SYSID, segName(3)), SEGMENT);
  await putSegment(dir, driver, key, partialKey(SYSID, segName(4)), 5000);
  await putSegment(dir, driver, otherKey, segmentKey(SYSID, segName(5)), SEGMENT);
  const history = path.join(dir, 'history');
  await writeFile(history, '1\t0/3000000\tno recovery target specified\n');
  await encodeWalFile({ file: history, driver, objectKey: historyKey(SYSID, 2), key });
}

describe('reading one storage for a catalog rebuild (real local storage, real zstd)', () => {
  let dir: string;
  let driver: StorageDriver;
  const key = secretKeyFromBytes(randomBytes(32));
  const otherKey = secretKeyFromBytes(randomBytes(32));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'catalog-rebuild-'));
    driver = createLocalStorage({ name: 'store', root: path.join(dir, 'store') });
    await writeLogicalBackups(driver, key, otherKey);
    await writeArchive(dir, driver, key, otherKey);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a backup whose header proves it, and lists a swapped object and a foreign key with their reasons', async () => {
    const findings = await readStorage({ name: 'store', driver }, key);
    assert.deepEqual(
      findings.backups.map((b) => b.backupId),
      ['20261123T103000Z-aaaaaa'],
    );
    const reasons = new Map(findings.unreadable.map((u) => [u.key, u.reason]));
    assert.match(
      reasons.get('shop/20261124T103000Z-bbbbbb.json') ?? '',
      /authenticates as backup 20261123T103000Z-aaaaaa/,
    );
    assert.match(
      reasons.get('shop/20261125T103000Z-cccccc.json') ?? '',
      new RegExp(`encrypted with key ${otherKey.id}`),
    );
  });

  it('reads base backups from records, segments from the index first and the rest by reading them', async () => {
    const [archive] = (await readStorage({ name: 'store', driver }, key)).archives;
    assert.ok(archive);
    assert.equal(archive.database, 'shop');
    assert.deepEqual(
      archive.baseBackups.map((b) => b.id),
      ['b1'],
    );
    assert.equal(archive.fromIndex, 2);
    assert.equal(archive.byReading, 2);
    const segments = archive.segmentGroups.flat();
    assert.deepEqual(
      segments.map((s) => [s.name, s.complete]),
      [
        [segName(1), true],
        [segName(2), true],
        [segName(3), true],
        [segName(4), false],
      ],
    );
    assert.equal(segments[3]!.sizeBytes, 5000);
    assert.equal(segments[3]!.endLsn, `0/${(4 * SEGMENT + 5000).toString(16).toUpperCase()}`);
    assert.deepEqual(
      archive.histories.map((h) => [h.timeline, h.content]),
      [[2, '1\t0/3000000\tno recovery target specified\n']],
    );
  });

  it('lists a base backup whose object is gone and a segment under another key', async () => {
    const { unreadable } = await readStorage({ name: 'store', driver }, key);
    const reasons = new Map(unreadable.map((u) => [u.key, u.reason]));
    assert.match(reasons.get(baseBackupRecordKey(SYSID, 'b2')) ?? '', /b2\.tar\.zst\.hsb' is missing/);
    assert.match(reasons.get(segmentKey(SYSID, segName(5))) ?? '', new RegExp(`encrypted with key ${otherKey.id}`));
  });

  it('refuses everything with a key that wrote none of it, reading nothing into the findings', async () => {
    const findings = await readStorage({ name: 'store', driver }, secretKeyFromBytes(randomBytes(32)));
    assert.equal(findings.backups.length, 0);
    assert.equal(findings.archives[0]!.baseBackups.length, 0);
    assert.equal(findings.archives[0]!.segmentGroups.length, 0);
    assert.ok(findings.unreadable.length >= 8, `${findings.unreadable.length} unreadable`);
  });
});

function archiveOf(overrides: Partial<FoundArchive>): FoundArchive {
  return {
    systemIdentifier: SYSID,
    database: 'shop',
    walSegmentSizeBytes: SEGMENT,
    baseBackups: [],
    segmentGroups: [],
    histories: [],
    fromIndex: 0,
    byReading: 0,
    ...overrides,
  };
}

describe('planning catalog rows from what was read', () => {
  const older = manifestOf('shop', '20261123T103000Z-aaaaaa', { sizeBytes: 5, sha256: sha('a') }, 'old.internal');
  const newer = manifestOf('shop', '20261124T103000Z-bbbbbb', { sizeBytes: 5, sha256: sha('a') }, 'new.internal');
  const findings = (archives: FoundArchive[]): RebuildFindings => ({
    storage: 's',
    backups: [older, newer],
    archives,
    unreadable: [],
  });

  it('creates a database where its newest manifest says its server is, without credentials, and only once', () => {
    const plan = planRebuild(findings([]), new Set(), new Set());
    assert.deepEqual(plan.databases, [
      { name: 'shop', host: 'new.internal', port: 5433, dbname: 'shop_src', connectionKnown: true },
    ]);
    assert.equal(plan.backups.length, 2);
    assert.deepEqual(planRebuild(findings([]), new Set(['shop']), new Set()).databases, []);
  });

  it('gives an archive to the database its records name, or else to the one its manifests came from', () => {
    const plan = planRebuild(
      findings([archiveOf({ database: 'books' }), archiveOf({ systemIdentifier: SYSID, database: undefined })]),
      new Set(),
      new Set(),
    );
    assert.deepEqual(
      plan.archives.map((a) => a.database),
      ['books', 'shop'],
    );
    assert.deepEqual(
      plan.databases.find((d) => d.name === 'books'),
      { name: 'books', host: 'localhost', port: 5432, dbname: 'books', connectionKnown: false },
    );
    const orphan = planRebuild(
      { storage: 's', backups: [], archives: [archiveOf({ database: undefined })], unreadable: [] },
      new Set(),
      new Set(),
    );
    assert.equal(orphan.archives.length, 0);
    assert.match(orphan.unreadable[0]!.reason, /names the database/);
  });

  it('orders increments after their parent and leaves out one whose parent exists nowhere', () => {
    const full = baseRecord('full1', { startedAt: '2026-11-23T09:00:00.000Z' });
    const inc = baseRecord('inc1', { kind: 'incremental', parentId: 'full1', startedAt: '2026-11-23T11:00:00.000Z' });
    const stray = baseRecord('inc2', { kind: 'incremental', parentId: 'gone' });
    const overRecorded = baseRecord('inc3', { kind: 'incremental', parentId: 'in-catalog' });
    const plan = planRebuild(
      findings([archiveOf({ baseBackups: [inc, stray, full, overRecorded] })]),
      new Set(),
      new Set(['in-catalog']),
    );
    assert.deepEqual(
      plan.archives[0]!.baseBackups.map((b) => b.id),
      ['full1', 'inc3', 'inc1'],
    );
    assert.match(plan.unreadable.find((u) => u.key.includes('inc2'))!.reason, /increment over base backup gone/);
  });

  it('places each segment by its name and the segment size', () => {
    const segment = {
      name: '000000010000000100000005',
      startLsn: '1/5000000',
      endLsn: '1/5001000',
      complete: false,
      sizeBytes: 4096,
      storedBytes: 900,
      sha256: sha('e'),
      objectKey: 'k',
      receivedAt: '2026-11-23T10:00:00.000Z',
    };
    const plan = planRebuild(
      findings([archiveOf({ walSegmentSizeBytes: 16 << 20, segmentGroups: [[segment]] })]),
      new Set(),
      new Set(),
    );
    const row = plan.archives[0]!.segmentGroups[0]![0]!;
    assert.equal(row.segno, 0x105n);
    assert.equal(row.startLsn, 0x105000000n);
    assert.equal(row.endLsn, 0x105001000n);
    assert.equal(row.complete, false);
  });
});
