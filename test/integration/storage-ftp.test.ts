import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { ftpStorageConfig, type FtpStorageConfig } from '../../lib/storage/ftp/config.ts';
import { createFtpStorage } from '../../lib/storage/ftp/driver.ts';
import { freePort } from '../support/ports.ts';
import { startFtpServer, type FtpServer } from '../support/servers/ftp.ts';
import { connectionFailure, describeStorageContract } from '../support/storage-contract.ts';
import { readAll, fillUntilStalled } from '../support/streams.ts';

function configFor(server: FtpServer, overrides: Partial<FtpStorageConfig> = {}): FtpStorageConfig {
  return ftpStorageConfig.parse({
    type: 'ftp',
    host: server.host,
    port: server.port,
    username: server.username,
    password: server.password,
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
  let server: FtpServer;
  before(async () => {
    server = await startFtpServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('reports a wrong password as access_denied naming the user, without the password', async () => {
    const driver = createFtpStorage({ name: 'wrong', config: configFor(server, { password: 'not-the-password-123' }) });
    const message = await connectionFailure(driver, 'access_denied');
    assert.match(message, /authentication failed for user hindsight/);
    assert.doesNotMatch(message, /not-the-password-123/);
  });

  it('reports a closed port as unreachable, naming host and port', async () => {
    const port = await freePort();
    const driver = createFtpStorage({ name: 'closed', config: configFor(server, { port }) });
    const message = await connectionFailure(driver, 'unreachable');
    assert.match(message, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}`));
  });

  it('serves many operations at once on one driver', async () => {
    const driver = createFtpStorage({ name: 'busy', config: configFor(server) });
    try {
      const keys = Array.from({ length: 6 }, (_, i) => `busy/${i}.txt`);
      await Promise.all(
        keys.map(async (key) => {
          const write = await driver.openWrite(key);
          await pipeline(Readable.from([Buffer.from(key)]), write.stream);
          await write.commit();
        }),
      );
      const [listed, ...bodies] = await Promise.all([
        driver.list('busy'),
        ...keys.map(async (key) => (await readAll(await driver.openRead(key))).toString()),
      ]);
      assert.deepEqual(
        listed.map((o) => o.key),
        keys,
      );
      assert.deepEqual(bodies, keys);
    } finally {
      await driver.close?.();
    }
  });

  it('holds the writer back while the server does not store, then completes', async () => {
    const driver = createFtpStorage({ name: 'stalled', config: configFor(server) });
    const resume = server.holdUploads();
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
    assert.equal(parsed.success, false);
    const messages = parsed.error!.issues.map((i) => i.message);
    assert.ok(messages.includes('password is required'), messages.join('; '));
    assert.ok(
      messages.some((m) => /path must be an absolute directory/.test(m)),
      messages.join('; '),
    );
    assert.ok(
      messages.some((m) => /secure must be false, true/.test(m)),
      messages.join('; '),
    );
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
