import { Writable } from 'node:stream';
import { HindsightError, errorMessage } from '../errors.ts';
import type { AtomicWrite, StorageDriver } from '../storage/contract.ts';

/** One destination of a backup and how its write is going. */
export interface Branch {
  name: string;
  driver: StorageDriver;
  write: AtomicWrite | undefined;
  error: HindsightError | undefined;
  /** The abort of a failed branch's partial object, awaited before the backup reports its outcome. */
  discarded?: Promise<void>;
}

function asHindsightError(branch: Branch, error: unknown): HindsightError {
  if (error instanceof HindsightError) return error;
  return new HindsightError('unreachable', `storage ${branch.driver.label}: write failed: ${errorMessage(error)}`, { cause: error });
}

/** Marks a branch failed once, discarding its partial object. */
export function failBranch(branch: Branch, error: unknown): void {
  if (branch.error) return;
  branch.error = asHindsightError(branch, error);
  const write = branch.write;
  branch.write = undefined;
  if (write) branch.discarded = write.abort().catch(() => undefined);
}

/**
 * Writes every chunk to every live destination and moves on only when each has taken it, so the
 * slowest destination sets the pace and memory stays at each driver's own bound. A destination
 * that fails is dropped and the others go on; the stream fails only when none is left.
 */
export class FanOut extends Writable {
  readonly branches: Branch[];

  constructor(branches: Branch[]) {
    super({ highWaterMark: 0 });
    this.branches = branches;
    for (const branch of branches) {
      branch.write?.stream.on('error', (error) => failBranch(branch, error));
    }
  }

  private live(): Branch[] {
    return this.branches.filter((b) => !b.error && b.write);
  }

  private noneLeft(): HindsightError {
    const reasons = this.branches.map((b) => b.error?.message ?? `storage ${b.driver.label}: no write`).join('; ');
    return new HindsightError(this.branches[0]?.error?.kind ?? 'unreachable', `every storage failed: ${reasons}`);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const live = this.live();
    if (live.length === 0) return callback(this.noneLeft());
    Promise.all(live.map((branch) => writeChunk(branch, chunk))).then(
      () => callback(this.live().length === 0 ? this.noneLeft() : null),
      (error: unknown) => callback(error as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.all(this.live().map((branch) => endBranch(branch))).then(
      () => callback(this.live().length === 0 ? this.noneLeft() : null),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const branch of this.live()) branch.write?.stream.destroy();
    callback(error);
  }
}

/** Resolves when the destination can take more; a failure only fails that branch. */
function writeChunk(branch: Branch, chunk: Buffer): Promise<void> {
  const stream = branch.write!.stream;
  return new Promise<void>((resolve) => {
    const done = (error?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (error) failBranch(branch, error);
      resolve();
    };
    const onDrain = () => done();
    const onError = (error: Error) => done(error);
    const onClose = () => done(branch.error ?? new Error('the stream closed before the write finished'));
    stream.on('error', onError);
    stream.on('close', onClose);
    if (stream.destroyed) return done(stream.errored ?? new Error('the stream is closed'));
    if (stream.write(chunk)) done();
    else stream.on('drain', onDrain);
  });
}

function endBranch(branch: Branch): Promise<void> {
  const stream = branch.write!.stream;
  return new Promise<void>((resolve) => {
    const done = (error?: unknown) => {
      stream.off('finish', onFinish);
      stream.off('error', onError);
      if (error) failBranch(branch, error);
      resolve();
    };
    const onFinish = () => done();
    const onError = (error: Error) => done(error);
    stream.on('finish', onFinish);
    stream.on('error', onError);
    stream.end();
  });
}
