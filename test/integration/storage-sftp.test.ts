import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { sftpStorageConfig, type SftpStorageConfig } from '../../lib/storage/sftp/config.ts';
import { createSftpStorage } from '../../lib/storage/sftp/driver.ts';
import { startSshd, type SshdServer } from '../support/servers/sshd.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { closingAfter, listedKeys, putObject } from '../support/storage-objects.ts';
import { assertRefused, connectionFailure, loginServerSuite, loginSettings } from '../support/storage-driver-checks.ts';
import { readAll, fillUntilStalled } from '../support/streams.ts';

function configFor(server: SshdServer, overrides: Partial<SftpStorageConfig> = {}): SftpStorageConfig {
  return sftpStorageConfig.parse({
    type: 'sftp',
    ...loginSettings(server),
    hostKeySha256: server.hostKeySha256,
    path: `${server.baseDir}/backups`,
    ...overrides,
  });
}

describeStorageContract('sftp (openssh)', async () => {
  const server = await startSshd();
  return { driver: createSftpStorage({ name: 'offsite', config: configFor(server) }), cleanup: () => server.stop() };
});

describe('sftp storage driver', () => {
  const server = loginServerSuite(
    () => startSshd(),
    (on, name, overrides) => createSftpStorage({ name, config: configFor(on, overrides) }),
  );

  it('logs in with an encrypted private key and round-trips an object', async () => {
    const { password: _password, ...withoutPassword } = configFor(server(), {
      privateKey: server().privateKey,
      passphrase: server().passphrase,
    });
    await closingAfter(createSftpStorage({ name: 'by-key', config: withoutPassword }), async (driver) => {
      await putObject(driver, 'keyed/hello.txt', Buffer.from('hello over a key'));
      assert.equal((await readAll(await driver.openRead('keyed/hello.txt'))).toString(), 'hello over a key');
      assert.deepEqual(await listedKeys(driver, 'keyed'), ['keyed/hello.txt']);
    });
  });

  it('refuses a server whose host key differs from hostKeySha256', async () => {
    const other = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const driver = createSftpStorage({ name: 'pinned', config: configFor(server(), { hostKeySha256: other }) });
    const message = await connectionFailure(driver, 'bad_input');
    assert.ok(
      message.includes(`presented host key ${server().hostKeySha256}, not the expected ${other}; refusing to connect`),
      message,
    );
  });

  it('reports a directory the user may not write as access_denied', async () => {
    const readOnly = configFor(server(), { path: `${server().readOnlyDir}/sub` });
    await closingAfter(createSftpStorage({ name: 'read-only', config: readOnly }), async (driver) => {
      await assert.rejects(driver.openWrite('x.bin'), (error: unknown) => {
        assert.ok(error instanceof HindsightError);
        assert.equal(error.kind, 'access_denied', error.message);
        assert.match(error.message, /storage sftp "read-only": unable to write 'x\.bin': .*ermission denied/);
        return true;
      });
    });
  });

  it('reports a server that stopped after connecting as unreachable', async () => {
    const own = await startSshd();
    await closingAfter(createSftpStorage({ name: 'flaky', config: configFor(own) }), async (driver) => {
      assert.deepEqual(await testStorageConnection(driver).then((r) => r.ok), true);
      await own.stop();
      const result = await testStorageConnection(driver);
      assert.ok(!result.ok);
      assert.equal(result.kind, 'unreachable', result.message);
    });
  });

  it('holds the writer back while the server does not answer, then completes', async () => {
    await closingAfter(createSftpStorage({ name: 'hung', config: configFor(server()) }), async (driver) => {
      const write = await driver.openWrite('slow/big.bin');
      const thaw = await server().freezeSessions();
      let accepted: number;
      try {
        accepted = await fillUntilStalled(write.stream);
      } finally {
        thaw();
      }
      assert.ok(accepted <= 16 * 1024 * 1024, `took ${accepted} bytes while the server was frozen`);
      write.stream.end();
      assert.equal((await write.commit()).size, accepted);
    });
  });

  it('rejects incomplete settings with clear messages', () => {
    const parsed = sftpStorageConfig.safeParse({ type: 'sftp', host: 'h', username: 'u', path: 'relative' });
    assertRefused(parsed, [/^password or privateKey is required$/, /path must be an absolute directory/]);
    const badKey = sftpStorageConfig.safeParse({
      type: 'sftp',
      host: 'h',
      username: 'u',
      path: '/x',
      privateKey: 'not a key',
    });
    assert.match(badKey.error!.issues[0]!.message, /privateKey cannot be used/);
    assert.equal(
      sftpStorageConfig.parse({ type: 'sftp', host: 'h', username: 'u', password: 'p', path: '/x' }).port,
      22,
    );
  });
});
