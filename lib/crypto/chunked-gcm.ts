import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HindsightError } from '../errors.ts';
import type { SecretKey } from './secret-key.ts';

/**
 * The backup file format (docs/backup-format.md is the normative description):
 *
 *   header (50 bytes): magic "HSBK" ‖ version u8 = 1 ‖ algorithm u8 = 1 ‖ chunk size u32be ‖
 *                      salt (32) ‖ key id (8)
 *   chunk, repeated:   plaintext length u32be ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
 *
 * The data key is HKDF-SHA256(secret key, salt, "hindsight backup data key v1") (RFC 5869), so
 * every file has its own key. Each chunk's associated data is header ‖ index u64be ‖ final u8:
 * reordering, dropping or appending chunks, or editing the header, fails authentication, and a
 * file must end with exactly one chunk marked final, so truncation is detected too.
 */
export const MAGIC = Buffer.from('HSBK', 'ascii');
export const FORMAT_VERSION = 1;
export const ALGORITHM_AES256GCM_HKDF_SHA256 = 1;
export const HEADER_LENGTH = 50;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const LENGTH_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = 'hindsight backup data key v1';

export interface BackupHeader {
  version: number;
  algorithm: number;
  chunkSize: number;
  salt: Buffer;
  keyId: string;
}

export function encodeHeader(header: BackupHeader): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(out, 0);
  out.writeUInt8(header.version, 4);
  out.writeUInt8(header.algorithm, 5);
  out.writeUInt32BE(header.chunkSize, 6);
  header.salt.copy(out, 10);
  Buffer.from(header.keyId, 'hex').copy(out, 42);
  return out;
}

export function decodeHeader(bytes: Buffer): BackupHeader {
  if (bytes.length < HEADER_LENGTH || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new HindsightError('integrity', 'not a Hindsight backup file (bad magic): the file is not encrypted by Hindsight, or its first bytes are damaged');
  }
  const header: BackupHeader = {
    version: bytes.readUInt8(4),
    algorithm: bytes.readUInt8(5),
    chunkSize: bytes.readUInt32BE(6),
    salt: Buffer.from(bytes.subarray(10, 42)),
    keyId: bytes.subarray(42, 50).toString('hex'),
  };
  if (header.version !== FORMAT_VERSION) {
    throw new HindsightError('integrity', `backup format version ${header.version} is not supported by this Hindsight (it reads version ${FORMAT_VERSION}): upgrade Hindsight`);
  }
  if (header.algorithm !== ALGORITHM_AES256GCM_HKDF_SHA256) {
    throw new HindsightError('integrity', `backup uses unknown algorithm ${header.algorithm}`);
  }
  if (header.chunkSize < 1 || header.chunkSize > 64 * 1024 * 1024) {
    throw new HindsightError('integrity', `backup header has an impossible chunk size ${header.chunkSize}: the header is damaged`);
  }
  return header;
}

function dataKey(key: SecretKey, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes, salt, HKDF_INFO, 32));
}

function associatedData(header: Buffer, index: bigint, final: boolean): Buffer {
  const aad = Buffer.alloc(header.length + 9);
  header.copy(aad, 0);
  aad.writeBigUInt64BE(index, header.length);
  aad.writeUInt8(final ? 1 : 0, header.length + 8);
  return aad;
}

/**
 * Encrypts a byte stream into the format above. Input pieces are held by reference until a chunk
 * is full and then encrypted piece by piece, so no chunk is ever copied into one buffer: memory
 * stays at one chunk of input plus its ciphertext, and the garbage per byte is the ciphertext only.
 */
export class EncryptStream extends Transform {
  readonly header: Buffer;
  private readonly key: Buffer;
  private readonly chunkSize: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0n;

  constructor(secretKey: SecretKey, options: { chunkSize?: number } = {}) {
    super();
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const salt = randomBytes(32);
    this.header = encodeHeader({
      version: FORMAT_VERSION,
      algorithm: ALGORITHM_AES256GCM_HKDF_SHA256,
      chunkSize: this.chunkSize,
      salt,
      keyId: secretKey.id,
    });
    this.key = dataKey(secretKey, salt);
    this.push(this.header);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    // Strictly greater: whatever is left at the end (≤ one chunk) becomes the final chunk.
    while (this.pendingBytes > this.chunkSize) this.sealChunk(this.takePieces(this.chunkSize), this.chunkSize, false);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const length = this.pendingBytes;
    this.sealChunk(this.takePieces(length), length, true);
    callback();
  }

  /** Removes exactly `length` bytes from the front of the pending pieces, splitting one without copying. */
  private takePieces(length: number): Buffer[] {
    const pieces: Buffer[] = [];
    let needed = length;
    while (needed > 0) {
      const first = this.pending[0]!;
      if (first.length <= needed) {
        pieces.push(first);
        this.pending.shift();
        needed -= first.length;
      } else {
        pieces.push(first.subarray(0, needed));
        this.pending[0] = first.subarray(needed);
        needed = 0;
      }
    }
    this.pendingBytes -= length;
    return pieces;
  }

  private sealChunk(pieces: Buffer[], length: number, final: boolean): void {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(associatedData(this.header, this.index, final));
    const prefix = Buffer.allocUnsafe(LENGTH_BYTES + NONCE_BYTES);
    prefix.writeUInt32BE(length, 0);
    nonce.copy(prefix, LENGTH_BYTES);
    this.push(prefix);
    for (const piece of pieces) this.push(cipher.update(piece));
    cipher.final();
    this.push(cipher.getAuthTag());
    this.index += 1n;
  }
}

/**
 * Picks the secret key by the key id a header names; it throws a `HindsightError` naming the id
 * when no such key is at hand. After a rotation, one file may need a different key than the next.
 */
export type KeyResolver = (keyId: string) => SecretKey;

/** Decrypts and authenticates the format above; every failure says which chunk and why. */
export class DecryptStream extends Transform {
  private readonly keys: SecretKey | KeyResolver;
  private key: Buffer | undefined;
  private header: Buffer | undefined;
  private chunkSize = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private index = 0n;
  private finished = false;
  private bytesIn = 0;

  constructor(keys: SecretKey | KeyResolver) {
    super();
    this.keys = keys;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.finished && data.length > 0) {
      callback(new HindsightError('integrity', `backup has ${data.length} unexpected bytes after its final chunk (appended or corrupted data)`));
      return;
    }
    this.bytesIn += data.length;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    try {
      this.drain();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.header) {
      callback(new HindsightError('integrity', `backup is truncated: ${this.bytesIn} bytes, shorter than the ${HEADER_LENGTH}-byte header`));
      return;
    }
    if (!this.finished) {
      callback(new HindsightError('integrity', `backup is truncated: it ends after chunk ${this.index} without the final chunk (incomplete upload or cut-off file)`));
      return;
    }
    callback();
  }

  private takeBytes(n: number): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return head;
  }

  private peekLength(): number {
    const first = this.buffered[0]!;
    if (first.length >= LENGTH_BYTES) return first.readUInt32BE(0);
    return Buffer.concat(this.buffered, this.bufferedBytes).readUInt32BE(0);
  }

  private drain(): void {
    if (!this.header) {
      if (this.bufferedBytes < HEADER_LENGTH) return;
      const header = Buffer.from(this.takeBytes(HEADER_LENGTH));
      const decoded = decodeHeader(header);
      const secretKey = typeof this.keys === 'function' ? this.keys(decoded.keyId) : this.keys;
      if (decoded.keyId !== secretKey.id) {
        throw new HindsightError('access_denied', `backup was encrypted with key ${decoded.keyId}, but the key in use is ${secretKey.id}: use the secret.key that wrote it (--key <file>)`);
      }
      this.header = header;
      this.chunkSize = decoded.chunkSize;
      this.key = dataKey(secretKey, decoded.salt);
    }
    while (!this.finished && this.bufferedBytes >= LENGTH_BYTES) {
      const length = this.peekLength();
      if (length > this.chunkSize) {
        throw new HindsightError('integrity', `chunk ${this.index} claims ${length} bytes, more than the chunk size ${this.chunkSize}: the file is corrupted`);
      }
      const recordLength = LENGTH_BYTES + NONCE_BYTES + length + TAG_BYTES;
      if (this.bufferedBytes < recordLength) return;
      const record = this.takeBytes(recordLength);
      this.push(this.openChunk(record, length));
    }
    if (this.finished && this.bufferedBytes > 0) {
      throw new HindsightError('integrity', `backup has ${this.bufferedBytes} unexpected bytes after its final chunk (appended or corrupted data)`);
    }
  }

  private openChunk(record: Buffer, length: number): Buffer {
    const nonce = record.subarray(LENGTH_BYTES, LENGTH_BYTES + NONCE_BYTES);
    const body = record.subarray(LENGTH_BYTES + NONCE_BYTES, LENGTH_BYTES + NONCE_BYTES + length);
    const tag = record.subarray(LENGTH_BYTES + NONCE_BYTES + length);
    // A chunk shorter than the chunk size can only be the final one; a full one may be either.
    const candidates = length < this.chunkSize ? [true] : [false, true];
    for (const final of candidates) {
      const decipher = createDecipheriv('aes-256-gcm', this.key!, nonce);
      decipher.setAAD(associatedData(this.header!, this.index, final));
      decipher.setAuthTag(tag);
      const plain = decipher.update(body);
      try {
        decipher.final();
      } catch {
        continue;
      }
      this.index += 1n;
      this.finished = final;
      return plain;
    }
    throw new HindsightError('integrity', `chunk ${this.index} failed authentication: the backup is corrupted, reordered or was tampered with`);
  }
}
