import { createCipheriv, randomBytes } from 'node:crypto';
import type { Transform, TransformCallback } from 'node:stream';
import { EncryptStream } from '../lib/crypto/chunked-gcm.ts';

/** EncryptStream's own state (private there), plus the reused plaintext buffer. */
interface State {
  header: Buffer;
  key: Buffer;
  chunkSize: number;
  index: bigint;
  plain?: Buffer;
  filled?: number;
}

function seal(stream: Transform, s: State, final: boolean): void {
  const length = s.filled ?? 0;
  const prefix = Buffer.allocUnsafe(16);
  prefix.writeUInt32BE(length, 0);
  randomBytes(12).copy(prefix, 4);
  const cipher = createCipheriv('aes-256-gcm', s.key, prefix.subarray(4));
  const aad = Buffer.alloc(s.header.length + 9);
  s.header.copy(aad, 0);
  aad.writeBigUInt64BE(s.index, s.header.length);
  aad.writeUInt8(final ? 1 : 0, s.header.length + 8);
  cipher.setAAD(aad);
  const body = cipher.update(s.plain!.subarray(0, length));
  cipher.final();
  stream.push(prefix);
  stream.push(body);
  stream.push(cipher.getAuthTag());
  s.index += 1n;
  s.filled = 0;
}

/**
 * The same format as EncryptStream (lib/crypto/chunked-gcm.ts), with one large allocation per chunk
 * instead of three: plaintext is copied into one reused buffer (no Buffer.concat), and a sealed
 * chunk leaves as prefix, ciphertext and tag (no copy into a framed buffer).
 *
 * Why it matters: every MiB allocated outside the V8 heap counts towards "external memory
 * pressure", which starts a full mark-compact of the whole heap, and a worker's heap is large.
 */
export class LeanEncryptStream extends EncryptStream {
  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const s = this as unknown as State;
    s.plain ??= Buffer.allocUnsafe(s.chunkSize);
    s.filled ??= 0;
    for (let offset = 0; offset < data.length;) {
      // A full buffer is sealed only once more bytes arrive: the last chunk must be marked final.
      if (s.filled === s.chunkSize) seal(this, s, false);
      const n = data.copy(s.plain, s.filled, offset);
      s.filled += n;
      offset += n;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const s = this as unknown as State;
    s.plain ??= Buffer.allocUnsafe(0);
    seal(this, s, true);
    callback();
  }
}

/** Makes every EncryptStream lean, for trying the change inside the real worker without editing it. */
export function patchEncryptStream(): void {
  EncryptStream.prototype._transform = LeanEncryptStream.prototype._transform;
  EncryptStream.prototype._flush = LeanEncryptStream.prototype._flush;
}
