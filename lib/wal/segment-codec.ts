/**
 * WAL objects in storage: zstd-compressed, then encrypted with the chunked AES-256-GCM format that
 * logical backups use (docs/backup-format.md: `hindsight decrypt` writes them decompressed), with the
 * object's key in storage as its identity. Both directions stream; nothing is held whole in memory.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Duplex, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, EncryptStream, type DecryptionKey, type DecryptOptions } from '../crypto/chunked-gcm.ts';
import { pitrObjectIdentity } from '../crypto/object-identity.ts';
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { ByteMeter } from '../backup/byte-meter.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import type { StorageDriver } from '../storage/contract.ts';

export const WAL_ZSTD_LEVEL = 3;
export const BASE_BACKUP_ZSTD_LEVEL = 5;

export interface StoredObject {
  /** Bytes before compression and encryption, and their SHA-256. */
  rawBytes: number;
  rawSha256: string;
  /** Bytes of the object as stored, and their SHA-256. */
  storedBytes: number;
  storedSha256: string;
}

function spawnZstd(args: string[]): ChildProcessWithoutNullStreams {
  return spawn('zstd', ['-q', '-c', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

async function checkZstd(child: ChildProcessWithoutNullStreams, what: string, stderr: () => string): Promise<void> {
  const { code, signal } = await waitForExit(child);
  if (code !== 0)
    throw new HindsightError(
      'tool_failed',
      `zstd failed while ${what}: ${stderr() || (signal ? `signal ${signal}` : `exit code ${code}`)}`,
    );
}

/**
 * `zstd -d` as one stage of a pipeline (for `hindsight decrypt`); `exited` rejects when zstd fails,
 * e.g. on bytes that are not zstd or are cut off.
 */
export function zstdDecompressStage(what: string): { stage: Duplex; exited: Promise<void>; kill: () => void } {
  const zstd = spawnZstd(['-d']);
  const stderr = stderrTail(zstd);
  const exited = checkZstd(zstd, `decompressing ${what}`, stderr);
  return {
    stage: Duplex.from({ writable: zstd.stdin, readable: zstd.stdout }),
    exited,
    kill: () => zstd.kill('SIGKILL'),
  };
}

/**
 * source → SHA-256 → `zstd -<level>` → AES-256-GCM chunks → an atomic storage write. The object is
 * committed only when zstd exited cleanly and every byte went through, and its stored size is
 * checked afterwards: a write that "succeeded" with fewer bytes is an error (docs/design.md, failure mode 2).
 */
export async function compressEncryptToStorage(options: {
  source: Readable;
  driver: StorageDriver;
  objectKey: string;
  key: EncryptionKey;
  level: number;
  threads?: number;
  signal?: AbortSignal;
  onRawBytes?: (bytes: number) => void;
  /** Runs after the last byte and before the commit; throwing discards the write (e.g. the producer failed). */
  beforeCommit?: () => Promise<void>;
}): Promise<StoredObject> {
  const { driver, objectKey } = options;
  const write = await driver.openWrite(objectKey);
  const zstd = spawnZstd([`-${options.level}`, ...(options.threads !== undefined ? [`-T${options.threads}`] : [])]);
  const stderr = stderrTail(zstd);
  const exited = checkZstd(zstd, `compressing ${objectKey}`, stderr);
  const rawMeter = new ByteMeter(options.onRawBytes);
  const storedMeter = new ByteMeter();
  const signalOption = options.signal ? { signal: options.signal } : {};
  try {
    await Promise.all([
      pipeline(options.source, rawMeter, zstd.stdin, signalOption),
      pipeline(
        zstd.stdout,
        new EncryptStream(options.key, { identity: pitrObjectIdentity(objectKey) }),
        storedMeter,
        write.stream,
        signalOption,
      ),
      exited,
    ]);
    await options.beforeCommit?.();
    const info = await write.commit();
    if (info.size !== storedMeter.bytes) {
      await driver.remove(objectKey).catch(() => undefined);
      throw new HindsightError(
        'integrity',
        `storage ${driver.label}: '${objectKey}' holds ${info.size} bytes after upload, but ${storedMeter.bytes} were sent`,
      );
    }
    return {
      rawBytes: rawMeter.bytes,
      rawSha256: rawMeter.sha256,
      storedBytes: storedMeter.bytes,
      storedSha256: storedMeter.sha256,
    };
  } catch (error) {
    zstd.kill('SIGKILL');
    await write.abort().catch(() => undefined);
    await exited.catch(() => undefined);
    throw error instanceof HindsightError
      ? error
      : new HindsightError(
          'unreachable',
          `uploading '${objectKey}' to storage ${driver.label} failed: ${errorMessage(error)}`,
          { cause: error },
        );
  }
}

/** Encodes the first `validBytes` of a WAL file (all of it when absent) into storage. */
export async function encodeWalFile(options: {
  file: string;
  validBytes?: number;
  driver: StorageDriver;
  objectKey: string;
  key: EncryptionKey;
  signal?: AbortSignal;
}): Promise<StoredObject> {
  if (options.validBytes === 0)
    throw new HindsightError('bad_input', `refusing to archive an empty WAL object '${options.objectKey}'`);
  // Opened before anything else is awaited: a file that vanished (renamed when it completed) fails
  // here, as a rejected promise, rather than as a stream error that nobody listens to yet.
  const handle = await open(options.file, 'r');
  const source = handle.createReadStream(
    options.validBytes !== undefined ? { start: 0, end: options.validBytes - 1 } : {},
  );
  const stored = await compressEncryptToStorage({
    source,
    driver: options.driver,
    objectKey: options.objectKey,
    key: options.key,
    level: WAL_ZSTD_LEVEL,
    threads: 1,
    signal: options.signal,
  }).finally(() => handle.close().catch(() => undefined));
  if (options.validBytes !== undefined && stored.rawBytes !== options.validBytes) {
    await options.driver.remove(options.objectKey).catch(() => undefined);
    throw new HindsightError(
      'integrity',
      `WAL file ${options.file} yielded ${stored.rawBytes} bytes but ${options.validBytes} were expected (was it truncated?)`,
    );
  }
  return stored;
}

/** Appends zeros after the data until the output is `size` bytes, as PostgreSQL pads a segment. */
class ZeroPad extends Transform {
  private seen = 0;
  private readonly size: number;
  constructor(size: number) {
    super();
    this.size = size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen > this.size) {
      callback(
        new HindsightError(
          'integrity',
          `WAL object decodes to ${this.seen} bytes, more than the ${this.size}-byte segment size`,
        ),
      );
      return;
    }
    const zeros = Buffer.alloc(Math.min(this.size - this.seen, 1 << 20));
    let left = this.size - this.seen;
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      this.push(n === zeros.length ? zeros : zeros.subarray(0, n));
      left -= n;
    }
    callback();
  }
}

/**
 * An archive object must carry its own key as identity: a segment copied over another segment's
 * (or another cluster's) name is refused at its header. Version 1 objects, archived before objects
 * carried an identity, stay readable: where the catalog recorded a checksum the callers compare
 * it, and PostgreSQL itself refuses a segment whose page headers name another position or system.
 */
function decryptOptionsFor(objectKey: string): DecryptOptions {
  return { expect: pitrObjectIdentity(objectKey), acceptUnbound: true, objectName: objectKey };
}

/** storage → checksum → decrypt → `zstd -d`: the raw bytes as a stream (for a tar extractor, say). */
export function openDecoded(options: {
  driver: StorageDriver;
  objectKey: string;
  key: DecryptionKey;
  signal?: AbortSignal;
}): Promise<{ stream: Readable; done: Promise<StoredObject> }> {
  return (async () => {
    const object = await options.driver.openRead(options.objectKey);
    const zstd = spawnZstd(['-d']);
    const stderr = stderrTail(zstd);
    const storedMeter = new ByteMeter();
    const rawMeter = new ByteMeter();
    const signalOption = options.signal ? { signal: options.signal } : {};
    const exited = checkZstd(zstd, `decompressing ${options.objectKey}`, stderr);
    const input = pipeline(
      object,
      storedMeter,
      new DecryptStream(options.key, decryptOptionsFor(options.objectKey)),
      zstd.stdin,
      signalOption,
    );
    const stream = zstd.stdout.pipe(rawMeter);
    const done = (async () => {
      try {
        await Promise.all([
          input,
          exited,
          new Promise<void>((resolve, reject) => {
            rawMeter.once('end', resolve);
            rawMeter.once('error', reject);
          }),
        ]);
      } catch (error) {
        zstd.kill('SIGKILL');
        // zstd sees a cut-off stream whenever decryption stops; the decrypter's reason is the one that tells.
        const cause = await input.then(
          () => error,
          (inputError: unknown) => (inputError instanceof HindsightError ? inputError : error),
        );
        rawMeter.destroy(cause as Error);
        throw cause;
      }
      return {
        rawBytes: rawMeter.bytes,
        rawSha256: rawMeter.sha256,
        storedBytes: storedMeter.bytes,
        storedSha256: storedMeter.sha256,
      };
    })();
    // A failure before the consumer reads must not be unhandled; the consumer awaits `done`.
    done.catch(() => undefined);
    input.catch((error: unknown) => rawMeter.destroy(error as Error));
    return { stream, done };
  })();
}

/**
 * Writes a WAL object back to a file: storage → decrypt → `zstd -d` → `<dest>.tmp-…` → rename, so
 * PostgreSQL never sees a half-written segment. With `padToSize`, a partial segment is padded with
 * zeros to the full segment size (what recovery expects of a segment file). With `expectedSha256`,
 * the decoded bytes (before padding) must match the catalog's checksum.
 */
export async function decodeWalObject(options: {
  driver: StorageDriver;
  objectKey: string;
  key: DecryptionKey;
  destination: string;
  padToSize?: number;
  expectedSha256?: string;
  signal?: AbortSignal;
}): Promise<StoredObject> {
  const temp = path.join(
    path.dirname(options.destination),
    `.${path.basename(options.destination)}.tmp-${process.pid}-${Date.now()}`,
  );
  try {
    const { stream, done } = await openDecoded(options);
    const out = createWriteStream(temp, { mode: 0o600 });
    const signalOption = options.signal ? { signal: options.signal } : {};
    if (options.padToSize !== undefined) await pipeline(stream, new ZeroPad(options.padToSize), out, signalOption);
    else await pipeline(stream, out, signalOption);
    const result = await done;
    if (options.expectedSha256 && result.rawSha256 !== options.expectedSha256) {
      throw new HindsightError(
        'integrity',
        `WAL object '${options.objectKey}' in storage ${options.driver.label} decodes to SHA-256 ${result.rawSha256}, but the catalog recorded ${options.expectedSha256}`,
      );
    }
    await rename(temp, options.destination);
    return result;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
