import { PassThrough } from 'node:stream';
import type { AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialBeside, type PartialFileWrite } from '../shared/partial-files.ts';
import { SinkWritable } from '../shared/sink-writable.ts';
import { TRANSFER_BUFFER_BYTES } from '../shared/streams.ts';
import type { FtpConnections } from './connection.ts';
import type { FtpFail } from './errors.ts';
import { mkdirp, removeOn, replaceOn, statOn } from './files.ts';

/**
 * Uploads into a hidden partial file next to the target over a connection of its own; commit
 * renames it into place on the control connection.
 */
export async function openFtpWrite(
  options: PartialFileWrite<FtpFail> & { connections: FtpConnections },
): Promise<AtomicWrite> {
  const { connections, label, key, target, fail } = options;
  const { dir, partial } = partialBeside(target);
  const client = await connections.transferClient();
  try {
    await mkdirp(client, dir);
  } catch (error) {
    connections.release(client);
    throw fail('write', key, error);
  }
  const body = new PassThrough({ highWaterMark: TRANSFER_BUFFER_BYTES });
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
  // `finish` comes only once the server confirmed the whole upload (226).
  const stream = new SinkWritable({
    sink: body,
    done: transfer.then(
      () => undefined,
      (error: unknown) => {
        throw fail('write', key, error);
      },
    ),
    endedEarly: () => fail('write', key, new Error('the server ended the upload before all bytes were sent')),
    onDestroy: () => body.destroy(),
    highWaterMark: TRANSFER_BUFFER_BYTES,
  });
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
