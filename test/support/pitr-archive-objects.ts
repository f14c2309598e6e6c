/**
 * Checks that a PITR archive is readable from storage and the key alone: the WAL index batches
 * cover what the catalog says was archived, and the documented reference decryptor decodes every
 * kind of PITR object to what Hindsight itself decodes (segments to the server's own pg_wal files).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { decryptCommand } from '../../cli/decrypt.ts';
import type { WalStore } from '../../lib/catalog/wal.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { historyKey } from '../../lib/wal/archive-keys.ts';
import {
  baseBackupRecordKey,
  baseBackupRecordSchema,
  readRecord,
  walIndexPrefix,
  walIndexSchema,
} from '../../lib/wal/archive-records.ts';
import { formatLsn } from '../../lib/wal/lsn.ts';
import { decodeWalObject, encodeWalFile } from '../../lib/wal/segment-codec.ts';
import { runReferenceDecryptor } from './reference-decryptor.ts';

const run = promisify(execFile);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export interface ArchiveUnderTest {
  database: string;
  wal: WalStore;
  driver: StorageDriver;
  key: SecretKey;
  /** The source server's data directory: its pg_wal holds every archived segment (wal_keep_size). */
  dataDir: string;
  /** A scratch directory of the test's. */
  dir: string;
}

/** Every complete segment of timeline 1 is in exactly the batches storage holds, as the catalog recorded it. */
export async function checkWalIndexCoversCatalog(archive: ArchiveUnderTest): Promise<string[]> {
  const config = await archive.wal.config(archive.database);
  const sysid = config.systemIdentifier!;
  const listed = await archive.driver.list(walIndexPrefix(sysid, 1));
  assert.ok(listed.length > 0, `WAL index batches under ${walIndexPrefix(sysid, 1)}`);
  const indexed = new Map<string, { sha256: string; objectKey: string; sizeBytes: number }>();
  for (const object of listed) {
    const batch = await readRecord(archive.driver, object.key, archive.key, walIndexSchema);
    assert.equal(batch.timeline, 1);
    assert.equal(batch.walSegmentSizeBytes, config.walSegmentSize);
    const names = batch.segments.map((s) => s.name);
    assert.ok(object.key.endsWith(`/${names[0]}-${names.at(-1)}.json.hsb`), `${object.key} names its first and last`);
    for (let i = 1; i < batch.segments.length; i++)
      assert.equal(batch.segments[i]!.startLsn, batch.segments[i - 1]!.endLsn, `no gap inside ${object.key}`);
    for (const s of batch.segments) indexed.set(s.name, s);
  }
  const complete = (await archive.wal.segmentsOf(archive.database, { timeline: 1 })).filter((s) => s.complete);
  for (const segment of complete) {
    const entry = indexed.get(segment.name);
    assert.ok(entry, `segment ${segment.name} is in a WAL index batch`);
    assert.deepEqual(entry && [entry.sha256, entry.objectKey, entry.sizeBytes], [
      segment.sha256,
      segment.objectKey,
      segment.sizeBytes,
    ]);
  }
  return listed.map((o) => o.key);
}

/** Runs the documented decryptor and Hindsight's own decoding over one object; returns both outputs. */
async function bothDecodings(
  archive: ArchiveUnderTest,
  decryptor: { python: string; script: string; keyFile: string },
  objectKey: string,
  options: { driver?: StorageDriver; viaCli?: boolean } = {},
): Promise<{ python: Buffer; hindsight: Buffer; stored: Buffer }> {
  const driver = options.driver ?? archive.driver;
  const base = path.join(archive.dir, objectKey.replaceAll('/', '_'));
  await pipeline(await driver.openRead(objectKey), createWriteStream(`${base}.hsb`));
  const stderr = await runReferenceDecryptor(decryptor, `${base}.hsb`, `${base}.py`, objectKey);
  assert.match(stderr, /PITR object .*: \d+ chunks decrypted/);
  if (options.viaCli) {
    await decryptCommand(`${base}.hsb`, { key: archive.key, output: `${base}.cli`, expect: objectKey, json: true });
  } else if (objectKey.includes('.zst.')) {
    await decodeWalObject({ driver, objectKey, key: archive.key, destination: `${base}.cli` });
  } else {
    const record = objectKey.includes('/wal-index/')
      ? await readRecord(driver, objectKey, archive.key, walIndexSchema)
      : await readRecord(driver, objectKey, archive.key, baseBackupRecordSchema);
    await writeFile(`${base}.cli`, `${JSON.stringify(record)}\n`);
  }
  return {
    python: await readFile(`${base}.py`),
    hindsight: await readFile(`${base}.cli`),
    stored: await readFile(`${base}.hsb`),
  };
}

/** Segments (complete and partial) and a history file: the plain WAL bytes, as pg_wal holds them. */
async function checkWalObjects(
  archive: ArchiveUnderTest,
  decryptor: { python: string; script: string; keyFile: string },
): Promise<void> {
  const segments = await archive.wal.segmentsOf(archive.database, { timeline: 1 });
  const complete = segments.filter((s) => s.complete).at(-1)!;
  const partial = segments.find((s) => !s.complete);
  assert.ok(partial, 'a partial segment is archived');
  for (const segment of [complete, partial]) {
    const decoded = await bothDecodings(archive, decryptor, segment.objectKey, { viaCli: segment === complete });
    const onServer = await readFile(path.join(archive.dataDir, 'pg_wal', segment.name));
    assert.ok(decoded.python.equals(decoded.hindsight), `${segment.objectKey}: Python and Hindsight agree`);
    assert.equal(decoded.python.length, Number(segment.endLsn - segment.startLsn));
    assert.ok(decoded.python.equals(onServer.subarray(0, decoded.python.length)), `${segment.name} equals pg_wal`);
    assert.equal(sha256(decoded.python), segment.sha256);
  }
  // A history file goes through the archiver's own encoder into a storage of its own (this
  // archive has one timeline, and a history of timeline 2 beside it would end timeline 1).
  const sysid = (await archive.wal.config(archive.database)).systemIdentifier!;
  const history = `1\t${formatLsn(complete.endLsn)}\tno recovery target specified\n`;
  await writeFile(path.join(archive.dir, '00000002.history'), history);
  const driver = createLocalStorage({ name: 'histories', root: path.join(archive.dir, 'histories') });
  const key = historyKey(sysid, 2);
  await encodeWalFile({ file: path.join(archive.dir, '00000002.history'), driver, objectKey: key, key: archive.key });
  const decoded = await bothDecodings(archive, decryptor, key, { driver });
  assert.equal(decoded.python.toString('utf8'), history);
  assert.ok(decoded.hindsight.equals(decoded.python));
}

/** The newest base backup: its tar, its backup_manifest object and its record. */
async function checkBaseBackupObjects(
  archive: ArchiveUnderTest,
  decryptor: { python: string; script: string; keyFile: string },
): Promise<void> {
  const row = (await archive.wal.baseBackupsOf(archive.database)).filter((b) => b.status === 'complete').at(-1)!;
  const tar = await bothDecodings(archive, decryptor, row.objectKey, { viaCli: true });
  assert.ok(tar.python.equals(tar.hindsight), 'the tar: Python and hindsight decrypt agree');
  assert.equal(sha256(tar.python), row.sha256);
  const tarFile = path.join(archive.dir, 'base.tar');
  await writeFile(tarFile, tar.python);
  const label = (await run('tar', ['-xOf', tarFile, 'backup_label'])).stdout;
  assert.match(label, new RegExp(`START WAL LOCATION: ${formatLsn(row.startLsn!)} `));
  assert.match(label, new RegExp(`LABEL: hindsight ${row.id}`));
  const manifest = await bothDecodings(archive, decryptor, row.manifestKey!);
  const inTar = (await run('tar', ['-xOf', tarFile, 'backup_manifest'], { maxBuffer: 64 << 20 })).stdout;
  assert.equal(manifest.python.toString('utf8'), inTar, 'the backup_manifest object is the one in the tar');
  assert.ok(manifest.python.equals(manifest.hindsight));

  const recordKey = baseBackupRecordKey(row.systemIdentifier!, row.id);
  const record = await bothDecodings(archive, decryptor, recordKey);
  const json = baseBackupRecordSchema.parse(JSON.parse(record.python.toString('utf8')));
  assert.deepEqual(json, JSON.parse(record.hindsight.toString('utf8')));
  assert.deepEqual(
    [json.startLsn, json.stopLsn, json.timeline, json.kind, json.parentId, json.takenFrom],
    [formatLsn(row.startLsn!), formatLsn(row.stopLsn!), row.timeline, row.kind, row.parentId, row.source],
  );
  assert.deepEqual(json.tar, { sizeBytes: row.sizeBytes, sha256: row.sha256 });
  assert.deepEqual(json.object, { key: row.objectKey, sizeBytes: row.storedBytes, sha256: sha256(tar.stored) });
  assert.deepEqual(json.backupManifest, {
    key: row.manifestKey,
    sizeBytes: manifest.stored.length,
    sha256: sha256(manifest.stored),
  });
}

/** The reference decryptor on one object of every PITR kind, each compared with Hindsight's decoding. */
export async function checkReferenceDecryptorOnEveryPitrObject(
  archive: ArchiveUnderTest,
  decryptor: { python: string; script: string; keyFile: string },
  indexBatchKeys: string[],
): Promise<void> {
  await checkWalObjects(archive, decryptor);
  await checkBaseBackupObjects(archive, decryptor);
  const index = await bothDecodings(archive, decryptor, indexBatchKeys[0]!);
  const batch = walIndexSchema.parse(JSON.parse(index.python.toString('utf8')));
  assert.deepEqual(batch, JSON.parse(index.hindsight.toString('utf8')));
}
