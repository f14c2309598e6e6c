import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HindsightError } from '../errors.ts';
import {
  ALGORITHM_AES256GCM_WRAPPED_KEY,
  FORMAT_VERSION,
  authenticatedHeader,
  encodeHeader,
  wrapContextOf,
} from './backup-header.ts';
import {
  DEFAULT_CHUNK_SIZE,
  LENGTH_BYTES,
  NONCE_BYTES,
  associatedData,
  wrapperOf,
  type EncryptionKey,
} from './chunk-record.ts';
import type { ObjectIdentity } from './object-identity.ts';
import type { KeyWrapper } from './wrap/types.ts';

/**
 * The backup file format (docs/backup-format.md is the normative description):
 *
 *   header:          see lib/crypto/backup-header.ts; version 3 carries the identity and the
 *                    object's data key, wrapped (lib/crypto/wrap/)
 *   chunk, repeated: plaintext length u32be ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
 *
 * Version 3: the data key is 32 random bytes, new for every object, wrapped for whoever may read
 * it (the secret key, an X25519 recipient, a KMS key). Versions 1 and 2 (still read): the data key
 * is HKDF-SHA256(secret key, salt, "hindsight backup data key v1"). Each chunk's associated data is
 * authenticated header ‖ index u64be ‖ final u8, where the authenticated header is the whole
 * header in versions 1 and 2 and the part up to the identity in version 3 (so the wrapped key can
 * be rewrapped without touching a chunk): reordering, dropping or appending chunks, or editing the
 * identity, fails authentication, and a file must end with exactly one chunk marked final, so
 * truncation is detected too.
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
export {
  DEFAULT_CHUNK_SIZE,
  keySourcesOf,
  wrapperOf,
  type DecryptOptions,
  type DecryptionKey,
  type EncryptionKey,
  type KeyResolver,
} from './chunk-record.ts';
export { DecryptStream } from './decrypt-stream.ts';

/**
 * Encrypts a byte stream into format version 3. Input pieces are held by reference until a chunk
 * is full and then encrypted piece by piece, so no chunk is ever copied into one buffer: memory
 * stays at one chunk of input plus its ciphertext, and the garbage per byte is the ciphertext only.
 * The data key is wrapped (maybe by a KMS call) when the first input arrives, before the header
 * goes out.
 */
export class EncryptStream extends Transform {
  private readonly wrapper: KeyWrapper;
  private readonly identity: ObjectIdentity;
  private readonly chunkSize: number;
  private headerBytes: Buffer | undefined;
  private aad: Buffer = Buffer.alloc(0);
  private key: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0n;

  /** `identity` is what the object is: it goes into the header and so into every chunk's tag. */
  constructor(key: EncryptionKey, options: { identity: ObjectIdentity; chunkSize?: number }) {
    super();
    this.wrapper = wrapperOf(key);
    this.identity = options.identity;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  }

  /** The header as written; known once the stream has started. */
  get header(): Buffer {
    if (!this.headerBytes) throw new HindsightError('bad_input', 'the header is written with the first input');
    return this.headerBytes;
  }

  /** Which key-encryption key the data key is wrapped by (a secret key id, a recipient, a KMS key). */
  get keyRef(): string {
    return this.wrapper.keyRef;
  }

  private async start(): Promise<void> {
    const dataKey = randomBytes(32);
    const wrappedKey = await this.wrapper.wrap(dataKey, wrapContextOf(this.identity));
    const header = encodeHeader({
      version: FORMAT_VERSION,
      algorithm: ALGORITHM_AES256GCM_WRAPPED_KEY,
      chunkSize: this.chunkSize,
      keyId: wrappedKey.keyRef,
      identity: this.identity,
      wrappedKey,
    });
    this.key = dataKey;
    this.aad = authenticatedHeader(header);
    this.headerBytes = header;
    this.push(header);
  }

  /** Runs `then` once the header is out: at once after the first call. */
  private started(then: () => void, callback: TransformCallback): void {
    const run = (): void => {
      try {
        then();
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    };
    if (this.headerBytes) run();
    else this.start().then(run, callback);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.started(() => {
      this.pending.push(data);
      this.pendingBytes += data.length;
      // Strictly greater: whatever is left at the end (≤ one chunk) becomes the final chunk.
      while (this.pendingBytes > this.chunkSize) this.sealChunk(this.takePieces(this.chunkSize), this.chunkSize, false);
    }, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.started(() => {
      const length = this.pendingBytes;
      this.sealChunk(this.takePieces(length), length, true);
    }, callback);
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
    cipher.setAAD(associatedData(this.aad, this.index, final));
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
