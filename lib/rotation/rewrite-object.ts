/**
 * One stored object moved to the current secret key by a rotation: its header rewrapped (the data
 * key wrapped again, the chunks copied byte for byte), or the whole object re-encrypted under a new
 * data key so that nothing the retired key could ever unwrap still opens it. Copies of one object
 * in several storages are identical bytes, and stay so: the first rewrite of an object is kept
 * (the new header, or the re-encrypted bytes in a temporary file) and written to the others.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from '../backup/byte-meter.ts';
import {
  FORMAT_VERSION,
  MAX_HEADER_BYTES,
  decodeHeader,
  headerLength,
  type BackupHeader,
} from '../crypto/backup-header.ts';
import { DecryptStream, EncryptStream } from '../crypto/chunked-gcm.ts';
import { identityForObjectKey } from '../crypto/object-identity.ts';
import { rewrapHeader } from '../crypto/rewrap.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { unwrapperFor, type KeySources } from '../crypto/wrap/registry.ts';
import { secretWrapper } from '../crypto/wrap/secret.ts';
import type { StorageDriver } from '../storage/contract.ts';

/** What a rotation does with an object: by its header alone. */
export type RewritePlan = 'rewrap' | 'reencrypt' | 'current' | 'public-key' | 'needs-reencrypt';

export interface RewriteKeys {
  current: SecretKey;
  /** The keyring's keys (and identities): they open what the retired keys wrote. */
  decryption: KeySources;
  /** Where re-encrypted objects wait between the copies they are written to. */
  tempDir: string;
}

export interface Rewritten {
  sha256: string;
  sizeBytes: number;
  header: Buffer;
}

/** Kept per original header, so that every copy of an object is rewritten to the same bytes. */
export type RewriteCache = Map<string, { header: Buffer } | { file: string; header: Buffer }>;

export function planFor(header: BackupHeader, currentKeyId: string, reencrypt: boolean): RewritePlan {
  const record = header.wrappedKey;
  // Public-key and KMS objects are not under the secret key: its rotation leaves them alone.
  if (record && record.kind !== 'secret') return 'public-key';
  if (reencrypt) return 'reencrypt';
  if (header.version !== FORMAT_VERSION) return header.keyId === currentKeyId ? 'current' : 'needs-reencrypt';
  return record!.keyRef === currentKeyId ? 'current' : 'rewrap';
}

/** The header of a stored object, or undefined when it is not one Hindsight wrote. */
export async function storedHeader(driver: StorageDriver, key: string): Promise<Buffer | undefined> {
  const size = (await driver.stat(key))?.size ?? 0;
  const parts: Buffer[] = [];
  for await (const part of await driver.openRead(key, { start: 0, end: Math.min(size, MAX_HEADER_BYTES) }))
    parts.push(part as Buffer);
  const head = Buffer.concat(parts);
  try {
    const length = headerLength(head);
    return length === undefined ? undefined : Buffer.from(head.subarray(0, length));
  } catch {
    return undefined;
  }
}

async function writeStored(driver: StorageDriver, key: string, source: Readable): Promise<ByteMeter> {
  const meter = new ByteMeter();
  const write = await driver.openWrite(key);
  try {
    await pipeline(source, meter, write.stream as Writable);
  } catch (error) {
    await write.abort().catch(() => undefined);
    throw error;
  }
  await write.commit();
  return meter;
}

async function* concat(first: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  yield first;
  for await (const part of rest) yield part as Buffer;
}

async function reencryptedFile(driver: StorageDriver, key: string, header: Buffer, keys: RewriteKeys): Promise<string> {
  const decoded = decodeHeader(header);
  const file = path.join(keys.tempDir, `${header.subarray(-16).toString('hex')}-${path.basename(key)}`);
  await pipeline(
    await driver.openRead(key),
    new DecryptStream(keys.decryption, { objectName: key }),
    new EncryptStream(keys.current, {
      identity: decoded.identity ?? identityForObjectKey(key),
      chunkSize: decoded.chunkSize,
    }),
    createWriteStream(file, { mode: 0o600 }),
  );
  return file;
}

/** Rewrites `key` in `driver` as `plan` says (rewrap or reencrypt); returns what is stored now. */
export async function rewriteObject(
  driver: StorageDriver,
  key: string,
  header: Buffer,
  plan: 'rewrap' | 'reencrypt',
  keys: RewriteKeys,
  cache: RewriteCache,
): Promise<Rewritten> {
  const cacheKey = `${plan}:${key}:${header.toString('hex')}`;
  let done = cache.get(cacheKey);
  if (!done && plan === 'rewrap') {
    done = { header: await rewrapHeader(header, unwrapperFor(keys.decryption), secretWrapper(keys.current)) };
  } else if (!done) {
    const file = await reencryptedFile(driver, key, header, keys);
    done = { file, header: await fileHeader(file) };
  }
  cache.set(cacheKey, done);
  const source =
    'file' in done
      ? createReadStream(done.file)
      : Readable.from(concat(done.header, await driver.openRead(key, { start: header.length })));
  const meter = await writeStored(driver, key, source);
  return { sha256: meter.sha256, sizeBytes: meter.bytes, header: done.header };
}

/** The header at the start of a local file. */
async function fileHeader(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return Buffer.from(head.subarray(0, headerLength(head.subarray(0, bytesRead))));
  } finally {
    await handle.close();
  }
}

/** Removes the temporary files of re-encrypted objects. */
export async function clearCache(cache: RewriteCache): Promise<void> {
  for (const entry of cache.values()) if ('file' in entry) await rm(entry.file, { force: true });
}
