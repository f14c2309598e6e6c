import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { sftpStorageConfig } from '../../lib/storage/sftp/config.ts';
import { createSftpStorage } from '../../lib/storage/sftp/driver.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { startSshd, type SshdServer } from '../support/servers/sshd.ts';
import { closingAfter, listedKeys, putObject } from '../support/storage-objects.ts';
import { loginSettings } from '../support/storage-driver-checks.ts';

/**
 * An SFTP connection cut under a transfer, through the fault proxy: the transfer fails as
 * `unreachable`, and what follows it (the abort that removes the partial file, the close of a
 * read's handle, the driver's close) settles instead of waiting on a channel that is gone.
 * A case that hangs fails by its timeout.
 */
const CASE = { timeout: 60_000 };

describe('sftp storage driver: a connection lost under a transfer', () => {
  let server: SshdServer;
  let proxy: FaultProxy;

  before(async () => {
    server = await startSshd();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port });
  });

  after(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  const driverOn = (port: number, name: string): StorageDriver =>
    createSftpStorage({
      name,
      config: sftpStorageConfig.parse({
        type: 'sftp',
        ...loginSettings(server),
        port,
        hostKeySha256: server.hostKeySha256,
        path: `${server.baseDir}/lost`,
      }),
    });

  /** Writes until the stream fails; the connection is cut once `cutAfter` bytes were taken in. */
  async function writeUntilFailed(stream: Writable, cutAfter: number): Promise<unknown> {
    const failed = once(stream, 'error').then(([error]: unknown[]) => error);
    const chunk = Buffer.alloc(256 * 1024, 7);
    let written = 0;
    let cut = false;
    while (!stream.destroyed) {
      written += chunk.length;
      if (!cut && written >= cutAfter) cut = proxy.cut() > 0 || assert.fail('no connection was open to cut');
      // once() rejects on 'error': the failure is what `failed` waits for.
      if (!stream.write(chunk)) await Promise.race([once(stream, 'drain').catch(() => undefined), failed]);
    }
    return failed;
  }

  it('cut mid-upload: the write fails as unreachable, its abort settles, nothing is listed', CASE, async () => {
    await closingAfter(driverOn(proxy.port, 'cut-upload'), async (driver) => {
      const write = await driver.openWrite('upload/big.bin');
      const error = await writeUntilFailed(write.stream, 2 * 1024 * 1024);
      assert.ok(error instanceof HindsightError, String(error));
      assert.equal(error.kind, 'unreachable', error.message);
      assert.match(error.message, /storage sftp "cut-upload": unable to write 'upload\/big\.bin'/);
      await write.abort();
    });
    await closingAfter(driverOn(server.port, 'direct'), async (direct) => {
      assert.deepEqual(await listedKeys(direct, 'upload'), [], 'the failed write is not listed');
    });
  });

  it('cut mid-download: the read fails as unreachable and its stream closes', CASE, async () => {
    const body = randomBytes(8 * 1024 * 1024);
    await closingAfter(driverOn(server.port, 'direct'), (direct) => putObject(direct, 'download/big.bin', body));
    await closingAfter(driverOn(proxy.port, 'cut-download'), async (driver) => {
      const stream = await driver.openRead('download/big.bin');
      let received = 0;
      let cut = false;
      const reading = (async () => {
        for await (const chunk of stream) {
          received += (chunk as Buffer).length;
          if (!cut && received >= 1024 * 1024) cut = proxy.cut() > 0 || assert.fail('no connection was open to cut');
        }
      })();
      await assert.rejects(reading, (error: unknown) => {
        assert.ok(error instanceof HindsightError, String(error));
        assert.equal(error.kind, 'unreachable', error.message);
        assert.match(error.message, /storage sftp "cut-download": unable to read 'download\/big\.bin'/);
        return true;
      });
      assert.ok(received < body.length, `the cut came before the end (${received} of ${body.length} bytes)`);
      assert.ok(stream.destroyed);
      // The next operation opens a new connection.
      assert.equal((await driver.stat('download/big.bin'))?.size, body.length);
    });
  });

  it('a close while the server does not answer ends, and the driver refuses work after it', CASE, async () => {
    const driver = driverOn(server.port, 'frozen');
    await putObject(driver, 'frozen/small.bin', Buffer.from('before the freeze'));
    const thaw = await server.freezeSessions();
    try {
      // The server never sees the connection off: the close gives up waiting and drops it.
      await driver.close?.();
    } finally {
      thaw();
    }
    await assert.rejects(
      driver.stat('frozen/small.bin'),
      /storage sftp "frozen": unable to connect: .*the driver was closed/,
    );
  });
});
