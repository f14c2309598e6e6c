/**
 * The records that make a PITR archive readable from storage alone (docs/backup-format.md): a
 * manifest beside every base backup, and an index of the WAL archived per timeline, written in
 * batches. Both are small JSON documents encrypted like every other PITR object, with their own
 * storage key as the authenticated identity, so that storage can neither forge nor swap them.
 * A catalog rebuild reads them; nothing else needs them while the catalog is whole.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { DecryptStream, EncryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { pitrObjectIdentity } from '../crypto/object-identity.ts';
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError } from '../errors.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { basePrefix, walPrefix } from './archive-keys.ts';

/** A record is a few kilobytes to a few megabytes; anything far larger is not one. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const lsnText = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);
const sysid = z.string().regex(/^\d{1,20}$/);
const segmentName = z.string().regex(/^[0-9A-F]{24}$/);
const storedObject = z.object({ key: z.string().min(1), sizeBytes: z.number().int().nonnegative(), sha256: sha256Hex });

/** Written after a base backup's object is committed: everything its catalog row holds. */
export const baseBackupRecordSchema = z.object({
  format: z.literal('hindsight-base-backup'),
  formatVersion: z.literal(1),
  id: z.string().regex(/^[A-Za-z0-9._-]+$/),
  /** The Hindsight database whose PITR archive this is, by name when it was taken. */
  database: z.string().min(1),
  systemIdentifier: sysid,
  timeline: z.number().int().min(1),
  startLsn: lsnText,
  stopLsn: lsnText,
  startedAt: z.string().datetime({ offset: true }),
  finishedAt: z.string().datetime({ offset: true }),
  /** server_version_num of the source, e.g. 170002. */
  serverVersionNum: z.number().int().positive(),
  walSegmentSizeBytes: z.number().int().positive(),
  takenFrom: z.enum(['primary', 'standby']),
  kind: z.enum(['full', 'incremental']),
  parentId: z.string().nullable(),
  /** The uncompressed tar: its size and SHA-256. */
  tar: z.object({ sizeBytes: z.number().int().nonnegative(), sha256: sha256Hex }),
  /** The stored object (compressed and encrypted). */
  object: storedObject,
  /** PostgreSQL's backup_manifest, stored beside it (what an increment is taken against). */
  backupManifest: storedObject.nullable(),
});
export type BaseBackupRecord = z.infer<typeof baseBackupRecordSchema>;

export const walIndexEntrySchema = z.object({
  name: segmentName,
  startLsn: lsnText,
  /** Exclusive end of the bytes stored. */
  endLsn: lsnText,
  /** Uncompressed bytes and their SHA-256 (the catalog's size_bytes and sha256). */
  sizeBytes: z.number().int().nonnegative(),
  sha256: sha256Hex,
  /** The stored object's size. */
  storedBytes: z.number().int().nonnegative(),
  objectKey: z.string().min(1),
  receivedAt: z.string().datetime({ offset: true }),
});
export type WalIndexEntry = z.infer<typeof walIndexEntrySchema>;

/** One batch of complete segments of one timeline, in segment order, without gaps or repeats. */
export const walIndexSchema = z.object({
  format: z.literal('hindsight-wal-index'),
  formatVersion: z.literal(1),
  database: z.string().min(1),
  systemIdentifier: sysid,
  timeline: z.number().int().min(1),
  walSegmentSizeBytes: z.number().int().positive(),
  segments: z.array(walIndexEntrySchema).min(1),
});
export type WalIndex = z.infer<typeof walIndexSchema>;

function checkedId(id: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id))
    throw new HindsightError('bad_input', `base backup id "${id}" has characters a storage key cannot hold`);
  return id;
}

export function baseBackupRecordKey(systemIdentifier: string, baseBackupId: string): string {
  return `${basePrefix(systemIdentifier)}/${checkedId(baseBackupId)}.json.hsb`;
}

/** Where the index batches of a timeline live; listing it finds them all. */
export function walIndexPrefix(systemIdentifier: string, timeline: number): string {
  return `${walPrefix(systemIdentifier)}-index/${timeline.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** One batch, named by its first and last segment so that a listing sorts batches in WAL order. */
export function walIndexKey(systemIdentifier: string, timeline: number, first: string, last: string): string {
  segmentName.parse(first);
  segmentName.parse(last);
  return `${walIndexPrefix(systemIdentifier, timeline)}/${first}-${last}.json.hsb`;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function collect(source: Readable, through: NodeJS.ReadWriteStream, objectKey: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > MAX_RECORD_BYTES)
        return done(new HindsightError('integrity', `'${objectKey}' is larger than any archive record`));
      chunks.push(chunk);
      done();
    },
  });
  await pipeline([source, through, sink]);
  return Buffer.concat(chunks);
}

/** Encrypts a record with its storage key as identity; returns the bytes to store and their SHA-256. */
export async function sealRecord(
  objectKey: string,
  record: BaseBackupRecord | WalIndex,
  key: EncryptionKey,
): Promise<{ bytes: Buffer; sha256: string }> {
  const plain = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  const bytes = await collect(
    Readable.from([plain]),
    new EncryptStream(key, { identity: pitrObjectIdentity(objectKey) }),
    objectKey,
  );
  return { bytes, sha256: sha256(bytes) };
}

/** Decrypts a record, refusing one whose header names another key or whose content fails its schema. */
export async function openRecord<T>(
  objectKey: string,
  bytes: Buffer,
  key: DecryptionKey,
  schema: z.ZodType<T>,
): Promise<T> {
  const plain = await collect(
    Readable.from([bytes]),
    new DecryptStream(key, { expect: pitrObjectIdentity(objectKey), objectName: objectKey }),
    objectKey,
  );
  const parsed = schema.safeParse(JSON.parse(plain.toString('utf8')));
  if (!parsed.success)
    throw new HindsightError('integrity', `'${objectKey}' is not a valid archive record: ${parsed.error.message}`);
  return parsed.data;
}

/** Writes a record in one atomic write and checks the stored size. */
export async function writeRecord(
  driver: StorageDriver,
  objectKey: string,
  record: BaseBackupRecord | WalIndex,
  key: EncryptionKey,
): Promise<void> {
  const sealed = await sealRecord(objectKey, record, key);
  const write = await driver.openWrite(objectKey);
  try {
    await pipeline(Readable.from([sealed.bytes]), write.stream);
  } catch (error) {
    await write.abort().catch(() => undefined);
    throw error;
  }
  const stored = await write.commit();
  if (stored.size !== sealed.bytes.length) {
    await driver.remove(objectKey).catch(() => undefined);
    throw new HindsightError(
      'integrity',
      `storage ${driver.label}: '${objectKey}' holds ${stored.size} bytes after upload, but ${sealed.bytes.length} were sent`,
    );
  }
}

/** Reads and opens a record from storage. */
export async function readRecord<T>(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  schema: z.ZodType<T>,
): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await driver.openRead(objectKey)) {
    size += (chunk as Buffer).length;
    if (size > MAX_RECORD_BYTES)
      throw new HindsightError('integrity', `'${objectKey}' is larger than any archive record`);
    chunks.push(chunk as Buffer);
  }
  return openRecord(objectKey, Buffer.concat(chunks), key, schema);
}
