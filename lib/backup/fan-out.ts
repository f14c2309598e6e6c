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
  return new HindsightError('unreachable', `storage ${branch.driver.label}: write failed: ${errorMessage(error)}`, {
    cause: error,
  });
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

type Settle = (error?: unknown) => void;
type Listener = (error: Error) => void;
type Listen = (event: string, listener: Listener) => void;

/**
 * Waits on a branch's stream until `watch` calls `done`: it always resolves, an error only failing
 * that branch, and every listener added through `listen` is removed then.
 */
function settleBranch(branch: Branch, watch: (stream: Writable, listen: Listen, done: Settle) => void): Promise<void> {
  const stream = branch.write!.stream;
  return new Promise<void>((resolve) => {
    const listeners: Array<[string, Listener]> = [];
    const listen: Listen = (event, listener) => {
      listeners.push([event, listener]);
      stream.on(event, listener);
    };
    const done: Settle = (error) => {
      for (const [event, listener] of listeners) stream.off(event, listener);
      if (error) failBranch(branch, error);
      resolve();
    };
    watch(stream, listen, done);
  });
}

/** Resolves when the destination can take more; a failure only fails that branch. */
function writeChunk(branch: Branch, chunk: Buffer): Promise<void> {
  return settleBranch(branch, (stream, listen, done) => {
    listen('error', (error: Error) => done(error));
    listen('close', () => done(branch.error ?? new Error('the stream closed before the write finished')));
    if (stream.destroyed) return done(stream.errored ?? new Error('the stream is closed'));
    if (stream.write(chunk)) done();
    else listen('drain', () => done());
  });
}

function endBranch(branch: Branch): Promise<void> {
  return settleBranch(branch, (stream, listen, done) => {
    listen('finish', () => done());
    listen('error', (error: Error) => done(error));
    stream.end();
  });
}
