import { Transform, type TransformCallback } from 'node:stream';
import type { HindsightError } from '../errors.ts';

/**
 * Passes a stream on but holds back its last piece until `check` (the checksums of everything
 * that went through) has passed. A consumer therefore never sees the end of a backup whose
 * checksum is wrong: pg_restore cannot finish (and commit) an archive without its last bytes,
 * and a download that renames on success keeps nothing. Holds at most one piece (one chunk).
 */
export class ChecksumGate extends Transform {
  private held: Buffer | undefined;

  private readonly check: () => HindsightError | undefined;
  constructor(check: () => HindsightError | undefined) {
    super();
    this.check = check;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const failure = this.check();
    if (failure) {
      this.held = undefined;
      callback(failure);
      return;
    }
    callback(null, this.held);
  }
}
