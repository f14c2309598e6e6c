/**
 * What a decrypted download of a logical backup must be, worked out apart from the download path:
 * the stored object decrypted with the library (its SHA-256 must be the manifest's `dump.sha256`),
 * then, for a dump compressed outside pg_dump, decompressed by the `zstd` program. The SHA-256 and
 * size of the pg_restore-ready archive.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { DecryptStream, type KeyResolver } from '../../lib/crypto/chunked-gcm.ts';
import { compressedWhere, type BackupManifest } from '../../lib/backup/manifest.ts';

function hashSink(into: { hash: ReturnType<typeof createHash>; bytes: number }): Writable {
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      into.hash.update(chunk);
      into.bytes += chunk.length;
      cb();
    },
  });
}

export async function expectedArchive(
  objectFile: string,
  key: KeyResolver,
  manifest: Pick<BackupManifest, 'tool' | 'dump'>,
): Promise<{ sha256: string; bytes: number }> {
  const plain = { hash: createHash('sha256'), bytes: 0 };
  const archive = { hash: createHash('sha256'), bytes: 0 };
  const outside = compressedWhere(manifest) === 'outside';
  const zstd = outside ? spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'inherit'] }) : undefined;
  const decrypted = createReadStream(objectFile).pipe(new DecryptStream(key));
  decrypted.on('data', (chunk: Buffer) => {
    plain.hash.update(chunk);
    plain.bytes += chunk.length;
  });
  if (zstd) {
    await Promise.all([pipeline(decrypted, zstd.stdin), pipeline(zstd.stdout, hashSink(archive))]);
  } else {
    await pipeline(decrypted, hashSink(archive));
  }
  assert.equal(plain.hash.digest('hex'), manifest.dump.sha256, 'the stored object holds the dump its manifest records');
  return { sha256: archive.hash.digest('hex'), bytes: archive.bytes };
}
