import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { ftpStorageConfig, type FtpStorageConfig } from '../../lib/storage/ftp/config.ts';
import { createFtpStorage } from '../../lib/storage/ftp/driver.ts';
import { startFtpServer, type FtpServer } from '../support/servers/ftp.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { closingAfter, listedKeys, putObject } from '../support/storage-objects.ts';
import { assertRefused, connectionFailure, loginServerSuite, loginSettings } from '../support/storage-driver-checks.ts';
import { readAll, fillUntilStalled } from '../support/streams.ts';

function configFor(server: FtpServer, overrides: Partial<FtpStorageConfig> = {}): FtpStorageConfig {
  return ftpStorageConfig.parse({
    type: 'ftp',
    ...loginSettings(server),
    path: '/backups',
    ...overrides,
  });
}

describeStorageContract('ftp (ftp-srv)', async () => {
  const server = await startFtpServer();
  return { driver: createFtpStorage({ name: 'nas', config: configFor(server) }), cleanup: () => server.stop() };
});

describeStorageContract('ftps explicit (ftp-srv, self-signed)', async () => {
  const server = await startFtpServer({ tls: 'explicit' });
  return {
    driver: createFtpStorage({
      name: 'nas-tls',
      config: configFor(server, { secure: true, allowSelfSignedCertificate: true }),
    }),
    cleanup: () => server.stop(),
  };
});

describe('ftp storage driver', () => {
  const server = loginServerSuite(
    () => startFtpServer(),
    (on, name, overrides) => createFtpStorage({ name, config: configFor(on, overrides) }),
  );

  it('serves many operations at once on one driver', async () => {
    await closingAfter(createFtpStorage({ name: 'busy', config: configFor(server()) }), async (driver) => {
      const keys = Array.from({ length: 6 }, (_, i) => `busy/${i}.txt`);
      await Promise.all(keys.map((key) => putObject(driver, key, Buffer.from(key))));
      const [listed, ...bodies] = await Promise.all([
        listedKeys(driver, 'busy'),
        ...keys.map(async (key) => (await readAll(await driver.openRead(key))).toString()),
      ]);
      assert.deepEqual(listed, keys);
      assert.deepEqual(bodies, keys);
    });
  });

  it('holds the writer back while the server does not store, then completes', async () => {
    const driver = createFtpStorage({ name: 'stalled', config: configFor(server()) });
    const resume = server().holdUploads();
    try {
      const write = await driver.openWrite('slow/big.bin');
      let accepted: number;
      try {
        accepted = await fillUntilStalled(write.stream);
      } finally {
        resume();
      }
      // What the driver holds is bounded by its buffers; the kernel's socket buffers (several MiB on
      // loopback) take the rest.
      assert.ok(
        write.stream.writableLength <= 2 * 1024 * 1024,
        `${write.stream.writableLength} bytes buffered in the driver`,
      );
      assert.ok(accepted <= 32 * 1024 * 1024, `took ${accepted} bytes while the server stored nothing`);
      write.stream.end();
      assert.equal((await write.commit()).size, accepted);
    } finally {
      resume();
      await driver.close?.();
    }
  });

  it('rejects incomplete settings with clear messages', () => {
    const parsed = ftpStorageConfig.safeParse({
      type: 'ftp',
      host: 'h',
      username: 'u',
      path: 'relative',
      secure: 'yes',
    });
    assertRefused(parsed, [
      /^password is required$/,
      /path must be an absolute directory/,
      /secure must be false, true/,
    ]);
  });
});

describe('ftps storage driver', () => {
  it('refuses a self-signed certificate unless allowed', async () => {
    const server = await startFtpServer({ tls: 'explicit' });
    try {
      const driver = createFtpStorage({ name: 'strict', config: configFor(server, { secure: true }) });
      const message = await connectionFailure(driver, 'bad_input');
      assert.match(message, /TLS certificate of 127\.0\.0\.1:\d+ is not trusted: .*allowSelfSignedCertificate/);
    } finally {
      await server.stop();
    }
  });

  it('speaks implicit FTPS', async () => {
    const server = await startFtpServer({ tls: 'implicit' });
    try {
      const driver = createFtpStorage({
        name: 'implicit',
        config: configFor(server, { secure: 'implicit', allowSelfSignedCertificate: true }),
      });
      const result = await testStorageConnection(driver);
      await driver.close?.();
      assert.deepEqual({ ok: result.ok }, { ok: true }, JSON.stringify(result));
    } finally {
      await server.stop();
    }
  });
});
