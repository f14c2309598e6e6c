import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HindsightError } from '../errors.ts';
import type { SecretKey } from './secret-key.ts';
import {
  ALGORITHM_AES256GCM_HKDF_SHA256,
  FORMAT_VERSION,
  HEADER_PREFIX_LENGTH,
  decodeHeader,
  encodeHeader,
  headerLength,
  type BackupHeader,
} from './backup-header.ts';
import { describeIdentity, sameIdentity, type ObjectIdentity } from './object-identity.ts';

/**
 * The backup file format (docs/backup-format.md is the normative description):
 *
 *   header:          see lib/crypto/backup-header.ts; version 2 carries the object's identity
 *   chunk, repeated: plaintext length u32be ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
 *
 * The data key is HKDF-SHA256(secret key, salt, "hindsight backup data key v1") (RFC 5869), so
 * every file has its own key. Each chunk's associated data is header ‖ index u64be ‖ final u8:
 * reordering, dropping or appending chunks, or editing the header (and so the identity), fails
 * authentication, and a file must end with exactly one chunk marked final, so truncation is
 * detected too.
 */
export {
  MAGIC,
  FORMAT_VERSION,
  UNBOUND_FORMAT_VERSION,
  ALGORITHM_AES256GCM_HKDF_SHA256,
  HEADER_PREFIX_LENGTH,
  encodeHeader,
  decodeHeader,
  type BackupHeader,
} from './backup-header.ts';
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const LENGTH_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = 'hindsight backup data key v1';

/** Finds the secret key named by a header's key id (a keyring), or throws naming the id. */
export type KeyResolver = (keyId: string) => SecretKey;

/** What every decrypting entry point takes: one key, or a keyring's resolver. */
export type DecryptionKey = SecretKey | KeyResolver;

export interface DecryptOptions {
  /** The identity the object must carry; any other is refused before a byte of plaintext. */
  expect?: ObjectIdentity;
  /**
   * Whether a version 1 object, which carries no identity, may stand in for `expect`: only when
   * the caller compares the object's SHA-256 with a record that storage cannot rewrite (the
   * catalog) before the plaintext is used.
   */
  acceptUnbound?: boolean;
  /** How messages name the object, e.g. its key in storage. */
  objectName?: string;
  /** Called with the header once it is read and checked, before its first chunk. */
  onHeader?: (header: BackupHeader) => void;
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

  /** `identity` is what the object is: it goes into the header and so into every chunk's tag. */
  constructor(secretKey: SecretKey, options: { identity: ObjectIdentity; chunkSize?: number }) {
    super();
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const salt = randomBytes(32);
    this.header = encodeHeader({
      version: FORMAT_VERSION,
      algorithm: ALGORITHM_AES256GCM_HKDF_SHA256,
      chunkSize: this.chunkSize,
      salt,
      keyId: secretKey.id,
      identity: options.identity,
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
 * Decrypts and authenticates the format above; every failure says which chunk and why. The key is
 * one secret key, or a resolver that finds the key the header names. With `expect`, an object
 * that is something else is refused at its header, before any plaintext.
 */
export class DecryptStream extends Transform {
  private readonly keySource: DecryptionKey;
  private readonly options: DecryptOptions;
  private key: Buffer | undefined;
  private header: Buffer | undefined;
  private decodedHeader: BackupHeader | undefined;
  private chunkSize = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private index = 0n;
  private finished = false;
  private bytesIn = 0;

  constructor(key: DecryptionKey, options: DecryptOptions = {}) {
    super();
    this.keySource = key;
    this.options = options;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.finished && data.length > 0) {
      callback(
        this.named(
          new HindsightError(
            'integrity',
            `backup has ${data.length} unexpected bytes after its final chunk (appended or corrupted data)`,
          ),
        ),
      );
      return;
    }
    this.bytesIn += data.length;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    try {
      this.drain();
      callback();
    } catch (error) {
      callback(this.named(error as Error));
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.header) {
      callback(
        this.named(
          new HindsightError(
            'integrity',
            `backup is truncated: ${this.bytesIn} bytes, shorter than its header (at least ${HEADER_PREFIX_LENGTH})`,
          ),
        ),
      );
      return;
    }
    if (!this.finished) {
      callback(
        this.named(
          new HindsightError(
            'integrity',
            `backup is truncated: it ends after chunk ${this.index} without the final chunk (incomplete upload or cut-off file)`,
          ),
        ),
      );
      return;
    }
    callback();
  }

  /**
   * Prefixes a failure with the object's name (its key in storage, or the file), so that a refusal
   * read far from the reader — a restore's error, restore_command's reply — says which object it was.
   */
  private named(error: Error): Error {
    const name = this.options.objectName;
    if (!name || !(error instanceof HindsightError) || error.message.includes(name)) return error;
    return new HindsightError(error.kind, `object ${name}: ${error.message}`, { cause: error });
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

  /** Reads the header once enough bytes are in; false while more are needed. */
  private readHeader(): boolean {
    const known = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const length = headerLength(known);
    if (length === undefined || this.bufferedBytes < length) return false;
    const header = Buffer.from(this.takeBytes(length));
    const decoded = decodeHeader(header);
    this.refuseUnbound(decoded);
    const secretKey = this.resolveKey(decoded.keyId);
    this.options.onHeader?.(decoded);
    this.header = header;
    this.decodedHeader = decoded;
    this.chunkSize = decoded.chunkSize;
    this.key = dataKey(secretKey, decoded.salt);
    return true;
  }

  private resolveKey(keyId: string): SecretKey {
    const secretKey = typeof this.keySource === 'function' ? this.keySource(keyId) : this.keySource;
    if (secretKey.id !== keyId) {
      throw new HindsightError(
        'access_denied',
        `backup was encrypted with key ${keyId}, but the key in use is ${secretKey.id}: use the secret.key that wrote it (--key <file>)`,
      );
    }
    return secretKey;
  }

  /** A version 1 object carries no identity: refused at its header unless the caller may accept it. */
  private refuseUnbound(header: BackupHeader): void {
    const expected = this.options.expect;
    if (!expected || header.identity || this.options.acceptUnbound) return;
    throw new HindsightError(
      'integrity',
      `object ${this.objectName()} is in format version ${header.version}, which carries no identity, so it cannot be proven to be ${describeIdentity(expected)}; with no catalog record to check its checksum against it is refused (if you trust this copy, decrypt it with \`hindsight decrypt\` without --expect)`,
    );
  }

  /**
   * Compares the identity with the expected one once the first chunk has authenticated it (and
   * before that chunk's plaintext leaves): an identity that differs is then truly another object's,
   * while a damaged header fails that chunk's authentication instead.
   */
  private checkIdentity(header: BackupHeader): void {
    const expected = this.options.expect;
    if (!expected || !header.identity || sameIdentity(header.identity, expected)) return;
    throw new HindsightError(
      'integrity',
      `object ${this.objectName()} authenticates as ${describeIdentity(header.identity)}, expected ${describeIdentity(expected)}: the object was replaced or copied in storage`,
    );
  }

  private objectName(): string {
    return this.options.objectName ?? 'backup object';
  }

  private drain(): void {
    if (!this.header && !this.readHeader()) return;
    while (!this.finished && this.bufferedBytes >= LENGTH_BYTES) {
      const length = this.peekLength();
      if (length > this.chunkSize) {
        throw new HindsightError(
          'integrity',
          `chunk ${this.index} claims ${length} bytes, more than the chunk size ${this.chunkSize}: the file is corrupted`,
        );
      }
      const recordLength = LENGTH_BYTES + NONCE_BYTES + length + TAG_BYTES;
      if (this.bufferedBytes < recordLength) return;
      const record = this.takeBytes(recordLength);
      this.push(this.openChunk(record, length));
    }
    if (this.finished && this.bufferedBytes > 0) {
      throw new HindsightError(
        'integrity',
        `backup has ${this.bufferedBytes} unexpected bytes after its final chunk (appended or corrupted data)`,
      );
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
      if (this.index === 0n) this.checkIdentity(this.decodedHeader!);
      this.index += 1n;
      this.finished = final;
      return plain;
    }
    throw new HindsightError(
      'integrity',
      `chunk ${this.index} failed authentication: the backup is corrupted, reordered or was tampered with`,
    );
  }
}
