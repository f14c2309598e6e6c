import { Writable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import type { AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialBeside, type PartialFileWrite } from '../shared/partial-files.ts';
import { HindsightError } from '../../errors.ts';
import { TRANSFER_BUFFER_BYTES } from '../shared/streams.ts';
import { SFTP_STATUS, statusCode, type SftpFail } from './errors.ts';
import { explainWriteError, infoOf, mkdirp, removeFile, replace, statFile } from './files.ts';
import { call, handleCloser } from './session.ts';

/** Bytes sent but not yet acknowledged per write; bounds memory and keeps a slow link busy. */
const UPLOAD_WINDOW = 4 * 1024 * 1024;

/**
 * The Writable handed to the caller. Chunks go out as pipelined SFTP WRITE requests at explicit
 * offsets; the caller is held back once UPLOAD_WINDOW bytes await the server's acknowledgement.
 * `finish` is emitted only after every byte is acknowledged, synced and the handle closed.
 */
class SftpUpload extends Writable {
  private position = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private blocked: ((error?: Error | null) => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  /** The connection dropped: callbacks that still arrive no longer count. */
  private abandoned = false;
  private readonly closer: ReturnType<typeof handleCloser>;

  private readonly sftp: SFTPWrapper;
  private readonly handle: Buffer;
  private readonly explain: (error: unknown) => Promise<Error>;
  constructor(sftp: SFTPWrapper, handle: Buffer, explain: (error: unknown) => Promise<Error>) {
    super({ highWaterMark: TRANSFER_BUFFER_BYTES });
    this.sftp = sftp;
    this.handle = handle;
    this.closer = handleCloser(sftp, handle);
    this.explain = explain;
    // ssh2 answers only the requests it had sent when the connection drops; writes still queued
    // for the channel's window never hear back. Without this, a lost connection holds the upload forever.
    const lost = () => this.connectionLost();
    sftp.once('end', lost).once('close', lost);
    this.once('close', () => sftp.off('end', lost).off('close', lost));
  }

  private connectionLost(): void {
    if (this.inFlight === 0 && this.writableFinished) return;
    this.abandoned = true;
    this.inFlight = 0;
    void this.explain(
      new Error('SSH connection lost mid-upload: the network dropped it or the server stopped answering'),
    ).then((explained) => {
      this.failure ??= explained;
      this.release();
      this.destroy(this.failure);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    if (this.abandoned) {
      this.blocked = callback;
      return;
    }
    const length = chunk.length;
    const at = this.position;
    this.position += length;
    this.inFlight += length;
    const settle = (error: unknown): void => {
      if (this.abandoned) return;
      if (!error) {
        this.inFlight -= length;
        this.release();
        return;
      }
      void this.explain(error).then((explained) => {
        this.failure ??= explained;
        this.inFlight -= length;
        this.release();
      });
    };
    try {
      this.sftp.write(this.handle, chunk, 0, length, at, settle);
    } catch (error) {
      settle(error);
    }
    if (this.inFlight < UPLOAD_WINDOW) callback();
    else this.blocked = callback;
  }

  private release(): void {
    if (this.blocked && (this.failure || this.inFlight < UPLOAD_WINDOW)) {
      const callback = this.blocked;
      this.blocked = undefined;
      callback(this.failure);
    }
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async drained(): Promise<void> {
    if (this.inFlight > 0 && !this.abandoned) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  override _final(callback: (error?: Error | null) => void): void {
    void (async () => {
      await this.drained();
      if (this.failure) throw this.failure;
      try {
        // Durability before the rename makes the object visible, where the server offers it.
        await call(this.sftp, (done) => this.sftp.ext_openssh_fsync(this.handle, done)).catch((error: unknown) => {
          if (
            !(error instanceof Error && /does not support/.test(error.message)) &&
            statusCode(error) !== SFTP_STATUS.OP_UNSUPPORTED
          )
            throw error;
        });
        await this.closer.close();
      } catch (error) {
        throw await this.explain(error);
      }
    })().then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // On a lost connection the close would wait for an answer that never comes.
    if (this.abandoned) {
      callback(error);
      return;
    }
    // The server handles requests in order, so the close lands after any write still queued.
    void this.closer.closeQuietly().then(() => callback(error));
  }
}

/**
 * Writes go to a hidden partial file next to the target and are renamed over it on commit
 * (posix-rename@openssh.com replaces atomically).
 */
export async function openSftpWrite(options: PartialFileWrite<SftpFail> & { sftp: SFTPWrapper }): Promise<AtomicWrite> {
  const { sftp, label, key, target, fail } = options;
  const { dir, partial } = partialBeside(target);
  const explain = (error: unknown) => explainWriteError(sftp, dir, key, error, label, fail);
  let handle: Buffer;
  try {
    await mkdirp(sftp, dir);
    handle = await call<Buffer>(sftp, (done) => sftp.open(partial, 'wx', { mode: 0o600 }, done));
  } catch (error) {
    throw await explain(error);
  }
  const stream = new SftpUpload(sftp, handle, explain);
  return partialWrite({
    label,
    key,
    stream,
    async publish() {
      await replace(sftp, partial, target);
      return infoOf(key, await statFile(sftp, target));
    },
    async discard() {
      if (!stream.closed) {
        const closedNow = new Promise<void>((resolve) => stream.once('close', () => resolve()));
        stream.destroy();
        await closedNow;
      }
      await removeFile(sftp, partial).catch(() => undefined);
    },
    explain: (error) => (error instanceof HindsightError ? error : explain(error)),
  });
}
