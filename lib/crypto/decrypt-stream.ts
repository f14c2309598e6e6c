import { createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HindsightError } from '../errors.ts';
import {
  FORMAT_VERSION,
  HEADER_PREFIX_LENGTH,
  authenticatedHeader,
  decodeHeader,
  headerLength,
  wrapContextOf,
  type BackupHeader,
} from './backup-header.ts';
import {
  LENGTH_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  associatedData,
  derivedDataKey,
  keySourcesOf,
  type DecryptOptions,
  type DecryptionKey,
} from './chunk-record.ts';
import { describeIdentity, sameIdentity } from './object-identity.ts';
import type { SecretKey } from './secret-key.ts';
import { unwrapperFor, type KeySources } from './wrap/registry.ts';

/**
 * Decrypts and authenticates the format above; every failure says which chunk and why. The key is
 * one secret key, or a resolver that finds the key the header names. With `expect`, an object
 * that is something else is refused at its header, before any plaintext.
 */
export class DecryptStream extends Transform {
  private readonly keySources: KeySources;
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
    this.keySources = keySourcesOf(key);
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
    this.process().then(
      () => callback(),
      (error: unknown) => callback(this.named(error as Error)),
    );
  }

  /** The header (and the data key, maybe unwrapped by a KMS call) first, then every whole chunk. */
  private async process(): Promise<void> {
    if (!this.header && !(await this.readHeader())) return;
    this.drain();
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

  /** Reads the header once enough bytes are in, and finds the data key; false while more are needed. */
  private async readHeader(): Promise<boolean> {
    const known = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const length = headerLength(known);
    if (length === undefined || this.bufferedBytes < length) return false;
    const header = Buffer.from(this.takeBytes(length));
    const decoded = decodeHeader(header);
    this.refuseUnbound(decoded);
    this.key = await this.dataKeyOf(decoded);
    this.options.onHeader?.(decoded);
    this.header = authenticatedHeader(header);
    this.decodedHeader = decoded;
    this.chunkSize = decoded.chunkSize;
    return true;
  }

  private async dataKeyOf(header: BackupHeader): Promise<Buffer> {
    if (header.version === FORMAT_VERSION) {
      return unwrapperFor(this.keySources).unwrap(header.wrappedKey!, wrapContextOf(header.identity!));
    }
    return derivedDataKey(this.resolveKey(header.keyId, header.version), header.salt!);
  }

  private resolveKey(keyId: string, version: number): SecretKey {
    const source = this.keySources.secret;
    if (!source) {
      throw new HindsightError(
        'access_denied',
        `backup is in format version ${version}, encrypted with secret key ${keyId}: give that secret key (--key <file>)`,
      );
    }
    const secretKey = typeof source === 'function' ? source(keyId) : source;
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
