import type { DecryptOptions } from '../crypto/chunked-gcm.ts';
import { logicalBackupIdentity, type ObjectIdentity } from '../crypto/object-identity.ts';
import { HindsightError } from '../errors.ts';
import type { BackupManifest } from './manifest.ts';

/**
 * Storage is untrusted for integrity: whoever can write to it can copy one backup's object and
 * manifest over another backup's name, and a manifest is plain JSON anyone can edit. So every read
 * of a backup is held to two things storage cannot rewrite: the checksums the catalog recorded when
 * the backup was taken, and the identity authenticated in the object's header (format version 2).
 */

/** The checksums the catalog recorded for a backup (null where an old or unfinished record has none). */
export interface RecordedChecksums {
  objectSha256: string | null;
  dumpSha256: string | null;
}

/** What an opened backup must turn out to be: checked at its header, and at its end. */
export interface BackupExpectation {
  identity: ObjectIdentity;
  objectKey: string;
  /** The storage the object is read from, for messages. */
  storageLabel: string;
  objectSha256: string;
  dumpSha256: string;
  /** The checksums come from the catalog, not only from the manifest beside the object. */
  recorded: boolean;
}

export function recordedChecksums(record: { objectSha256: string | null; sha256: string | null }): RecordedChecksums {
  return { objectSha256: record.objectSha256, dumpSha256: record.sha256 };
}

/** Refuses a manifest whose checksums differ from the catalog's, before a byte of the object is read. */
export function checkManifestAgainstRecord(
  manifest: BackupManifest,
  recorded: RecordedChecksums | undefined,
  storageLabel: string,
): void {
  if (!recorded) return;
  const pairs = [
    ['object', manifest.object.sha256, recorded.objectSha256],
    ['decrypted dump', manifest.dump.sha256, recorded.dumpSha256],
  ] as const;
  for (const [what, inManifest, inCatalog] of pairs) {
    if (inCatalog && inManifest !== inCatalog) {
      throw new HindsightError(
        'integrity',
        `storage ${storageLabel}: the manifest of backup ${manifest.backupId} of database ${manifest.database} gives ${what} SHA-256 ${inManifest}, but the catalog recorded ${inCatalog} when the backup was taken: the object or its manifest was replaced or copied in storage`,
      );
    }
  }
}

/** The expectation for a manifest already checked against the catalog's record (when there is one). */
export function expectationFor(
  manifest: BackupManifest,
  recorded: RecordedChecksums | undefined,
  storageLabel: string,
): BackupExpectation {
  return {
    identity: logicalBackupIdentity(manifest.database, manifest.backupId),
    objectKey: manifest.object.key,
    storageLabel,
    objectSha256: recorded?.objectSha256 ?? manifest.object.sha256,
    dumpSha256: recorded?.dumpSha256 ?? manifest.dump.sha256,
    // A version 1 object binds no identity: it is accepted only when the catalog's object checksum vouches for it.
    recorded: Boolean(recorded?.objectSha256),
  };
}

export function decryptOptionsFor(expect: BackupExpectation): DecryptOptions {
  return {
    expect: expect.identity,
    acceptUnbound: expect.recorded,
    objectName: `${expect.objectKey} (storage ${expect.storageLabel})`,
  };
}

/** Compares what streamed through with the expectation; `dumpSha256` is absent when nothing was decrypted. */
export function streamedChecksumFailure(
  expect: BackupExpectation,
  streamed: { objectSha256: string; dumpSha256?: string },
): HindsightError | undefined {
  const source = expect.recorded ? 'the catalog recorded' : 'its manifest gives';
  const name = `object ${expect.objectKey} in storage ${expect.storageLabel}`;
  if (streamed.objectSha256 !== expect.objectSha256) {
    return new HindsightError(
      'integrity',
      `${name} has SHA-256 ${streamed.objectSha256}, but ${source} ${expect.objectSha256}: the object was damaged, replaced or copied in storage`,
    );
  }
  if (streamed.dumpSha256 !== undefined && streamed.dumpSha256 !== expect.dumpSha256) {
    return new HindsightError(
      'integrity',
      `${name} decrypts to SHA-256 ${streamed.dumpSha256}, but ${source} ${expect.dumpSha256}`,
    );
  }
  return undefined;
}
