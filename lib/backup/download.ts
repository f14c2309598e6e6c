import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { ByteMeter } from './byte-meter.ts';
import { ChecksumGate } from './checksum-gate.ts';
import { ArchiveDecoder } from './compress-decoder.ts';
import { decryptOptionsFor, streamedChecksumFailure } from './expectation.ts';
import { compressedWhere } from './manifest.ts';
import type { OpenedBackup } from './sources.ts';

/**
 * The backup as a stream for a person to keep: the pg_dump archive (decrypted and, for a dump
 * compressed outside pg_dump, decompressed: what pg_restore reads) or the encrypted object as stored. Decrypted, an object that is another backup is refused at its
 * header; either way the stream fails instead of ending when its checksum differs from the
 * catalog's record (or, without one, the manifest's), so a consumer that renames only on success
 * never keeps a bad file.
 */
export function downloadStream(opened: OpenedBackup, key: DecryptionKey, options: { decrypt: boolean }): Readable {
  const { expect } = opened;
  const objectMeter = new ByteMeter();
  const dumpMeter = new ByteMeter();
  const gate = new ChecksumGate(() =>
    streamedChecksumFailure(expect, {
      objectSha256: objectMeter.sha256,
      ...(options.decrypt ? { dumpSha256: dumpMeter.sha256 } : {}),
    }),
  );
  const out = new PassThrough();
  const done = options.decrypt
    ? pipeline(
        opened.object,
        objectMeter,
        new DecryptStream(key, decryptOptionsFor(expect)),
        dumpMeter,
        gate,
        new ArchiveDecoder({ expected: compressedWhere(opened.manifest), what: `object ${expect.objectKey}` }),
        out,
      )
    : pipeline(opened.object, objectMeter, gate, out);
  done.catch((error: unknown) => out.destroy(error as Error));
  return out;
}
