import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkManifestAgainstRecord,
  decryptOptionsFor,
  expectationFor,
  streamedChecksumFailure,
} from '../../lib/backup/expectation.ts';
import type { BackupManifest } from '../../lib/backup/manifest.ts';

const sha = (c: string) => c.repeat(64);
const manifest = {
  backupId: '20261123T103000Z-3f9a1c',
  database: 'orders',
  object: { key: 'orders/20261123T103000Z-3f9a1c.dump.hsb', sizeBytes: 100, sha256: sha('a') },
  dump: { sizeBytes: 60, sha256: sha('b') },
} as BackupManifest;

describe('what a backup read from storage is held to', () => {
  it('refuses a manifest whose checksums differ from the catalog record, naming both', () => {
    assert.throws(
      () => checkManifestAgainstRecord(manifest, { objectSha256: sha('c'), dumpSha256: sha('b') }, 'local "nas"'),
      new RegExp(
        `storage local "nas": the manifest of backup 20261123T103000Z-3f9a1c of database orders gives object SHA-256 ${sha('a')}, but the catalog recorded ${sha('c')}`,
      ),
    );
    assert.throws(
      () => checkManifestAgainstRecord(manifest, { objectSha256: sha('a'), dumpSha256: sha('d') }, 'x'),
      /decrypted dump SHA-256/,
    );
    checkManifestAgainstRecord(manifest, { objectSha256: sha('a'), dumpSha256: sha('b') }, 'x');
    checkManifestAgainstRecord(manifest, undefined, 'x');
  });

  it('accepts an object without identity (format version 1) only when the catalog recorded its checksum', () => {
    const recorded = expectationFor(manifest, { objectSha256: sha('a'), dumpSha256: sha('b') }, 'x');
    assert.deepEqual(decryptOptionsFor(recorded).expect, {
      kind: 'logical-backup',
      database: 'orders',
      backupId: '20261123T103000Z-3f9a1c',
    });
    assert.equal(decryptOptionsFor(recorded).acceptUnbound, true);
    assert.equal(decryptOptionsFor(expectationFor(manifest, undefined, 'x')).acceptUnbound, false);
    assert.equal(
      decryptOptionsFor(expectationFor(manifest, { objectSha256: null, dumpSha256: sha('b') }, 'x')).acceptUnbound,
      false,
    );
  });

  it('compares the streamed checksums with the record, or the manifest without one', () => {
    const recorded = expectationFor(manifest, { objectSha256: sha('a'), dumpSha256: sha('b') }, 'local "nas"');
    assert.equal(streamedChecksumFailure(recorded, { objectSha256: sha('a'), dumpSha256: sha('b') }), undefined);
    assert.match(
      streamedChecksumFailure(recorded, { objectSha256: sha('e') })?.message ?? '',
      new RegExp(`in storage local "nas" has SHA-256 ${sha('e')}, but the catalog recorded ${sha('a')}`),
    );
    assert.match(
      streamedChecksumFailure(recorded, { objectSha256: sha('a'), dumpSha256: sha('f') })?.message ?? '',
      /decrypts to SHA-256 f{64}, but the catalog recorded b{64}/,
    );
    const alone = expectationFor(manifest, undefined, 'x');
    assert.match(
      streamedChecksumFailure(alone, { objectSha256: sha('e') })?.message ?? '',
      /but its manifest gives a{64}/,
    );
  });
});
