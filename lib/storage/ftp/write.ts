import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialName } from '../shared/partial-files.ts';
import type { FtpConnections } from './connection.ts';
import type { FtpFail } from './errors.ts';
import { mkdirp, removeOn, replaceOn, statOn } from './files.ts';

const posix = path.posix;
export const STREAM_BUFFER = 1024 * 1024;

/**
 * The Writable handed to the caller: bytes flow into the FTP data connection with its
 * backpressure, and `finish` comes only once the server confirmed the whole upload (226).
 */
class FtpUpload extends Writable {
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;

  private readonly body: PassThrough;
  private readonly transfer: Promise<unknown>;
  private readonly translate: (error: unknown) => Error;
  constructor(
    body: PassThrough,
    transfer: Promise<unknown>,
    translate: (error: unknown) => Error,
  ) {
    super({ highWaterMark: STREAM_BUFFER });
    this.body = body;
    this.transfer = transfer;
    this.translate = translate;
    transfer.catch((error: unknown) => {
      this.failure ??= translate(error);
      this.wake();
    });
    body.on('drain', () => this.wake());
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
    if (this.body.write(chunk)) callback();
    else this.waiting = () => callback(this.failure);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    this.body.end();
    this.transfer.then(() => callback(), (error: unknown) => callback(this.failure ?? this.translate(error)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.body.destroy();
    callback(error);
  }
}

/**
 * Uploads into a hidden partial file next to the target over a connection of its own; commit
 * renames it into place on the control connection.
 */
export async function openFtpWrite(options: { connections: FtpConnections; label: string; key: string; target: string; fail: FtpFail }): Promise<AtomicWrite> {
  const { connections, label, key, target, fail } = options;
  const dir = posix.dirname(target);
  const partial = posix.join(dir, partialName(posix.basename(target)));
  const client = await connections.transferClient();
  try {
    await mkdirp(client, dir);
  } catch (error) {
    connections.release(client);
    throw fail('write', key, error);
  }
  const body = new PassThrough({ highWaterMark: STREAM_BUFFER });
  // basic-ftp reports transfer errors through its promise; the stream's copy is redundant.
  body.on('error', () => undefined);
  // basic-ftp starts reading `body` once the server accepted STOR: the partial exists then.
  const accepted = new Promise<void>((resolve) => body.once('resume', () => resolve()));
  const transfer = client.uploadFrom(body, partial).finally(() => connections.release(client));
  transfer.catch(() => undefined);
  try {
    await Promise.race([accepted, transfer]);
  } catch (error) {
    body.destroy();
    connections.release(client);
    throw fail('write', key, error);
  }
  const stream = new FtpUpload(body, transfer, (error) => fail('write', key, error));
  return partialWrite({
    label,
    key,
    stream,
    async publish() {
      const info = await connections.withControl(async (c) => {
        await replaceOn(c, partial, target);
        return statOn(c, key, target);
      });
      if (!info) throw new Error(`'${target}' is missing right after it was renamed into place`);
      return info;
    },
    async discard() {
      stream.destroy();
      connections.release(client);
      await transfer.catch(() => undefined);
      await connections.withControl((c) => removeOn(c, partial)).catch(() => undefined);
    },
    explain: (error) => fail('write', key, error),
  });
}
