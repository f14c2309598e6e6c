import { Writable } from 'node:stream';

/**
 * The Writable handed to a caller whose bytes feed another stream (an FTP data connection, an
 * rclone process's stdin) with that stream's backpressure. It finishes only once `done` says the
 * transfer stored every byte, so a failed upload fails the writer's pipeline, not only commit().
 */
export class SinkWritable extends Writable {
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;
  private transferEnded = false;
  private readonly sink: Writable;
  private readonly done: Promise<void>;
  private readonly onDestroy: (transferEnded: boolean) => void;

  constructor(options: {
    sink: Writable;
    /** Resolves once the transfer stored everything; rejects with the failure in the storage's words. */
    done: Promise<void>;
    /** The failure when the transfer ends while bytes are still being written. */
    endedEarly: () => Error;
    /** Stops the transfer when the caller gives up. */
    onDestroy: (transferEnded: boolean) => void;
    highWaterMark: number;
  }) {
    super({ highWaterMark: options.highWaterMark });
    this.sink = options.sink;
    this.done = options.done;
    this.onDestroy = options.onDestroy;
    this.done.then(
      () => {
        this.transferEnded = true;
        this.failure ??= options.endedEarly();
        this.wake();
      },
      (error: Error) => {
        this.transferEnded = true;
        this.failure ??= error;
        this.wake();
      },
    );
    this.sink.on('drain', () => this.wake());
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    if (this.sink.write(chunk)) callback();
    else this.waiting = () => callback(this.failure);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    this.sink.end();
    this.done.then(
      () => callback(),
      (error: Error) => callback(this.failure ?? error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.onDestroy(this.transferEnded);
    callback(error);
  }
}
