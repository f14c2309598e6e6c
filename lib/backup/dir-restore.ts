/**
 * The way back from a parallel logical backup: storage → SHA-256 → decrypt → SHA-256 → the
 * checksum gate → (zstd -d for a tar compressed outside pg_dump) → tar → a private directory (mode 0700, under the worker's temporary directory),
 * which `pg_restore --format=directory --jobs=N` then reads. pg_restore starts only once the whole
 * archive has authenticated and both checksums matched: the gate holds the last chunk until then,
 * and toc.dat, which pg_restore needs first, is the tar's last entry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { ByteMeter } from './byte-meter.ts';
import { ChecksumGate } from './checksum-gate.ts';
import { ArchiveDecoder } from './compress-decoder.ts';
import type { CompressionWhere } from './compress.ts';
import { decryptOptionsFor, streamedChecksumFailure, type BackupExpectation } from './expectation.ts';
import { TarExtractor } from './tar-extract.ts';

export interface ExtractOptions {
  object: Readable;
  expect: BackupExpectation;
  key: DecryptionKey;
  signal?: AbortSignal | undefined;
  /** The manifest's `tool.compression.where`: outside, the tar is one zstd stream. */
  compression: CompressionWhere;
  /** Meters the caller reads for progress; new ones when not given. */
  objectMeter?: ByteMeter;
  dumpMeter?: ByteMeter;
}

export interface ExtractedArchive {
  /** The directory archive, for pg_restore; removed by `cleanup`. */
  dir: string;
  objectMeter: ByteMeter;
  dumpMeter: ByteMeter;
  /** Set when storage, decryption, a checksum or the tar failed: the directory is then not to be read. */
  streamError: Error | undefined;
  cleanup(): Promise<void>;
}

/** Unpacks the decrypted tar into a fresh private directory; never throws for a bad stream (streamError). */
export async function extractDirectoryArchive(options: ExtractOptions): Promise<ExtractedArchive> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hindsight-restore-'));
  const cleanup = () => rm(root, { recursive: true, force: true });
  const objectMeter = options.objectMeter ?? new ByteMeter();
  const dumpMeter = options.dumpMeter ?? new ByteMeter();
  const gate = new ChecksumGate(() =>
    streamedChecksumFailure(options.expect, { objectSha256: objectMeter.sha256, dumpSha256: dumpMeter.sha256 }),
  );
  let streamError: Error | undefined;
  try {
    await pipeline(
      options.object,
      objectMeter,
      new DecryptStream(options.key, decryptOptionsFor(options.expect)),
      dumpMeter,
      gate,
      new ArchiveDecoder({ expected: options.compression, what: `object ${options.expect.objectKey}` }),
      new TarExtractor(root),
      options.signal ? { signal: options.signal } : {},
    );
  } catch (error) {
    streamError = error as Error;
  }
  return { dir: root, objectMeter, dumpMeter, streamError, cleanup };
}

/** pg_restore's arguments for an unpacked directory archive read by `jobs` jobs. */
export function directoryRestoreArgs(dir: string, jobs: number): string[] {
  return ['--format=directory', ...(jobs > 1 ? [`--jobs=${jobs}`] : []), dir];
}
