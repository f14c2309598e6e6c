/**
 * The way back from a decrypted logical backup to the archive pg_restore reads. A dump compressed
 * outside pg_dump is one zstd stream (its frames carry a checksum, which the decoder verifies); a
 * dump compressed inside is the archive itself. Every reader goes through this one stage: restore,
 * download, the sandbox's table of contents, `hindsight decrypt`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createZstdDecompress, type ZstdDecompress } from 'node:zlib';
import { HindsightError } from '../errors.ts';
import type { CompressionWhere } from './compress.ts';

/** Every zstd frame starts with these bytes (RFC 8878); a pg_dump custom archive starts with "PGDMP". */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const PGDMP = Buffer.from('PGDMP', 'latin1');

export const isZstd = (head: Buffer): boolean => head.length >= 4 && head.subarray(0, 4).equals(ZSTD_MAGIC);

/**
 * Passes a pg_dump archive through and decompresses a zstd stream, told apart by their first bytes.
 * Given `expected` (from the manifest), a plaintext of the other kind is refused: the manifest and
 * the object disagree. Downstream backpressure holds: a chunk's output is pushed before the next
 * chunk is taken, so memory stays at about one chunk times the compression ratio.
 */
export class ArchiveDecoder extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private decided = false;
  private zstd: ZstdDecompress | undefined;
  private readonly expected: CompressionWhere | undefined;
  private readonly what: string;

  constructor(options: { expected?: CompressionWhere | undefined; what: string }) {
    super();
    this.expected = options.expected;
    this.what = options.what;
  }

  /** True once the first bytes showed a zstd stream. */
  get decompressing(): boolean {
    return this.zstd !== undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.decided) {
      this.forward(chunk, callback);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < PGDMP.length) {
      callback();
      return;
    }
    const failure = this.decide();
    if (failure) {
      callback(failure);
      return;
    }
    const head = this.head;
    this.head = Buffer.alloc(0);
    this.forward(head, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decided && this.head.length > 0) {
      const failure = this.decide();
      if (failure) {
        callback(failure);
        return;
      }
      this.forward(this.head, (error?: Error | null, data?: unknown) => {
        if (error) callback(error);
        else {
          if (data) this.push(data);
          this.finish(callback);
        }
      });
      return;
    }
    this.finish(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.zstd?.destroy();
    callback(error);
  }

  private decide(): HindsightError | undefined {
    this.decided = true;
    const zstd = isZstd(this.head);
    const found: CompressionWhere = zstd ? 'outside' : 'inside';
    if (this.expected && this.expected !== found) {
      return new HindsightError(
        'integrity',
        `${this.what}: the manifest says the dump was compressed ${this.expected} pg_dump, but it decrypts to ${zstd ? 'a zstd stream' : 'data that is not zstd'}: the manifest was changed in storage`,
      );
    }
    if (!zstd) return undefined;
    const decoder = createZstdDecompress();
    decoder.on('data', (out: Buffer) => this.push(out));
    decoder.on('error', (error) =>
      this.destroy(new HindsightError('integrity', `${this.what}: the zstd stream is damaged: ${error.message}`)),
    );
    this.zstd = decoder;
    return undefined;
  }

  private forward(chunk: Buffer, callback: TransformCallback): void {
    if (!this.zstd) {
      callback(null, chunk);
      return;
    }
    // The decoder's write callback runs once the chunk is decompressed and its output emitted.
    this.zstd.write(chunk, () => callback());
  }

  private finish(callback: TransformCallback): void {
    const decoder = this.zstd;
    if (!decoder) {
      callback();
      return;
    }
    decoder.once('end', () => callback());
    decoder.end();
  }
}
