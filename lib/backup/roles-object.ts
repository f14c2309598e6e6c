import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DecryptStream,
  DEFAULT_CHUNK_SIZE,
  EncryptStream,
  type DecryptionKey,
  type EncryptionKey,
} from '../crypto/chunked-gcm.ts';
import { logicalBackupRolesIdentity } from '../crypto/object-identity.ts';
import { HindsightError } from '../errors.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { rolesObjectKey } from './ids.ts';
import type { BackupManifest } from './manifest.ts';
import { parseRolesDocument, type RolesDocument } from './roles.ts';

/** A roles object is a few kilobytes; anything far larger is not one. */
const MAX_ROLES_OBJECT_BYTES = 64 * 1024 * 1024;

/** The encrypted roles object of a backup, ready to be written to every storage. */
export interface SealedRoles {
  key: string;
  bytes: Buffer;
  sha256: string;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function collect(source: Readable, ...through: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > MAX_ROLES_OBJECT_BYTES) return done(new HindsightError('integrity', 'roles object is too large'));
      chunks.push(chunk);
      done();
    },
  });
  await pipeline([source, ...through, sink]);
  return Buffer.concat(chunks);
}

/**
 * Encrypts the roles document like the dump (same format, same key), with its own identity in the
 * header, so that it cannot be taken for a dump or for another backup's roles.
 */
export async function sealRoles(
  document: RolesDocument,
  at: { database: string; backupId: string },
  key: EncryptionKey,
): Promise<SealedRoles> {
  const plain = Buffer.from(`${JSON.stringify(document)}\n`, 'utf8');
  const encrypt = new EncryptStream(key, {
    identity: logicalBackupRolesIdentity(at.database, at.backupId),
    chunkSize: DEFAULT_CHUNK_SIZE,
  });
  const bytes = await collect(Readable.from([plain]), encrypt);
  return { key: rolesObjectKey(at.database, at.backupId), bytes, sha256: sha256(bytes) };
}

/** Writes the roles object in one atomic write, checking the stored size. */
export async function writeRolesObject(driver: StorageDriver, sealed: SealedRoles): Promise<void> {
  const write = await driver.openWrite(sealed.key);
  try {
    await pipeline(Readable.from([sealed.bytes]), write.stream);
  } catch (error) {
    await write.abort().catch(() => undefined);
    throw error;
  }
  const stored = await write.commit();
  if (stored.size !== sealed.bytes.length) {
    await driver.remove(sealed.key).catch(() => undefined);
    throw new HindsightError(
      'integrity',
      `storage ${driver.label}: '${sealed.key}' holds ${stored.size} bytes after upload, but ${sealed.bytes.length} were sent`,
    );
  }
}

/**
 * Reads and decrypts the roles object the manifest names, refusing one whose SHA-256 differs from
 * the manifest's or whose header names another object; undefined for a backup taken before
 * backups kept their roles.
 */
export async function readRolesObject(
  driver: StorageDriver,
  manifest: BackupManifest,
  key: DecryptionKey,
): Promise<RolesDocument | undefined> {
  const entry = manifest.roles;
  if (!entry) return undefined;
  if (entry.key !== rolesObjectKey(manifest.database, manifest.backupId))
    throw new HindsightError(
      'integrity',
      `the manifest of backup ${manifest.backupId} in storage ${driver.label} points at roles object '${entry.key}' instead of its own`,
    );
  const objectName = `'${entry.key}' (storage ${driver.label})`;
  const bytes = await collect(await driver.openRead(entry.key));
  if (sha256(bytes) !== entry.sha256)
    throw new HindsightError(
      'integrity',
      `roles object ${objectName} has SHA-256 ${sha256(bytes)}, but the manifest gives ${entry.sha256}`,
    );
  const plain = await collect(
    Readable.from([bytes]),
    new DecryptStream(key, {
      expect: logicalBackupRolesIdentity(manifest.database, manifest.backupId),
      acceptUnbound: false,
      objectName,
    }),
  );
  return parseRolesDocument(plain.toString('utf8'), objectName);
}

/**
 * Copies a backup's roles object as stored (still encrypted: no key needed), refused when it
 * differs from the manifest's SHA-256. Nothing to copy for a backup without one.
 */
export async function copyRolesObject(from: StorageDriver, to: StorageDriver, manifest: BackupManifest): Promise<void> {
  const entry = manifest.roles;
  if (!entry) return;
  const bytes = await collect(await from.openRead(entry.key));
  if (sha256(bytes) !== entry.sha256)
    throw new HindsightError(
      'integrity',
      `roles object '${entry.key}' in storage ${from.label} does not match its manifest (SHA-256 ${sha256(bytes)}); it was not copied to ${to.label}`,
    );
  await to.sweepAbandonedWrites(entry.key, 0);
  await writeRolesObject(to, { key: entry.key, bytes, sha256: entry.sha256 });
}
