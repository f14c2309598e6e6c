import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type KeyResolver } from '../crypto/chunked-gcm.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { HindsightError } from '../errors.ts';
import { ByteMeter } from './byte-meter.ts';
import type { OpenedBackup } from './sources.ts';

/** Holds back the end of the stream until the checksums of everything that passed have been compared. */
class ChecksumGate extends Transform {
  constructor(private readonly check: () => HindsightError | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.check() ?? null);
  }
}

/**
 * The backup as a stream for a person to keep: the pg_dump archive (decrypted, for pg_restore) or
 * the encrypted object as stored. Either way the stream fails instead of ending when a byte
 * differs from the manifest, so a consumer that renames only on success never keeps a bad file.
 */
export function downloadStream(opened: OpenedBackup, key: SecretKey | KeyResolver, options: { decrypt: boolean }): Readable {
  const { manifest } = opened;
  const objectMeter = new ByteMeter();
  const dumpMeter = new ByteMeter();
  const gate = new ChecksumGate(() => {
    if (objectMeter.sha256 !== manifest.object.sha256) {
      return new HindsightError('integrity', `backup ${manifest.backupId} in storage ${opened.driver.label}: object SHA-256 ${objectMeter.sha256} differs from the manifest's ${manifest.object.sha256}`);
    }
    if (options.decrypt && dumpMeter.sha256 !== manifest.dump.sha256) {
      return new HindsightError('integrity', `backup ${manifest.backupId}: decrypted SHA-256 ${dumpMeter.sha256} differs from the manifest's ${manifest.dump.sha256}`);
    }
    return undefined;
  });
  const out = new PassThrough();
  const done = options.decrypt
    ? pipeline(opened.object, objectMeter, new DecryptStream(key), dumpMeter, gate, out)
    : pipeline(opened.object, objectMeter, gate, out);
  done.catch((error: unknown) => out.destroy(error as Error));
  return out;
}
