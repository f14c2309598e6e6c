import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { sftpStorageConfig, type SftpStorageConfig } from '../../lib/storage/sftp/config.ts';
import { createSftpStorage } from '../../lib/storage/sftp/driver.ts';
import { freePort } from '../support/ports.ts';
import { startSshd, type SshdServer } from '../support/servers/sshd.ts';
import { connectionFailure, describeStorageContract } from '../support/storage-contract.ts';
import { readAll, fillUntilStalled } from '../support/streams.ts';

function configFor(server: SshdServer, overrides: Partial<SftpStorageConfig> = {}): SftpStorageConfig {
  return sftpStorageConfig.parse({
    type: 'sftp',
    host: server.host,
    port: server.port,
    username: server.username,
    password: server.password,
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
  let server: SshdServer;
  before(async () => {
    server = await startSshd();
  });
  after(async () => {
    await server?.stop();
  });

  it('logs in with an encrypted private key and round-trips an object', async () => {
    const { password: _password, ...withoutPassword } = configFor(server, {
      privateKey: server.privateKey,
      passphrase: server.passphrase,
    });
    const driver = createSftpStorage({ name: 'by-key', config: withoutPassword });
    try {
      const write = await driver.openWrite('keyed/hello.txt');
      await pipeline(Readable.from([Buffer.from('hello over a key')]), write.stream);
      await write.commit();
      assert.equal((await readAll(await driver.openRead('keyed/hello.txt'))).toString(), 'hello over a key');
      assert.deepEqual(
        (await driver.list('keyed')).map((o) => o.key),
        ['keyed/hello.txt'],
      );
    } finally {
      await driver.close?.();
    }
  });

  it('reports a wrong password as access_denied naming the user, without the password', async () => {
    const driver = createSftpStorage({
      name: 'wrong',
      config: configFor(server, { password: 'not-the-password-123' }),
    });
    const message = await connectionFailure(driver, 'access_denied');
    assert.match(message, /authentication failed for user hindsight-sftp/);
    assert.doesNotMatch(message, /not-the-password-123/);
  });

  it('refuses a server whose host key differs from hostKeySha256', async () => {
    const other = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const driver = createSftpStorage({ name: 'pinned', config: configFor(server, { hostKeySha256: other }) });
    const message = await connectionFailure(driver, 'bad_input');
    assert.ok(
      message.includes(`presented host key ${server.hostKeySha256}, not the expected ${other}; refusing to connect`),
      message,
    );
  });

  it('reports a closed port as unreachable, naming host and port', async () => {
    const port = await freePort();
    const driver = createSftpStorage({ name: 'closed', config: configFor(server, { port }) });
    const message = await connectionFailure(driver, 'unreachable');
    assert.match(message, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}`));
  });

  it('reports a directory the user may not write as access_denied', async () => {
    const driver = createSftpStorage({
      name: 'read-only',
      config: configFor(server, { path: `${server.readOnlyDir}/sub` }),
    });
    try {
      await assert.rejects(driver.openWrite('x.bin'), (error: unknown) => {
        assert.ok(error instanceof HindsightError);
        assert.equal(error.kind, 'access_denied', error.message);
        assert.match(error.message, /storage sftp "read-only": unable to write 'x\.bin': .*ermission denied/);
        return true;
      });
    } finally {
      await driver.close?.();
    }
  });

  it('reports a server that stopped after connecting as unreachable', async () => {
    const own = await startSshd();
    const driver = createSftpStorage({ name: 'flaky', config: configFor(own) });
    try {
      assert.deepEqual(await testStorageConnection(driver).then((r) => r.ok), true);
      await own.stop();
      const result = await testStorageConnection(driver);
      assert.ok(!result.ok);
      assert.equal(result.kind, 'unreachable', result.message);
    } finally {
      await driver.close?.();
    }
  });

  it('holds the writer back while the server does not answer, then completes', async () => {
    const driver = createSftpStorage({ name: 'hung', config: configFor(server) });
    try {
      const write = await driver.openWrite('slow/big.bin');
      const thaw = await server.freezeSessions();
      let accepted: number;
      try {
        accepted = await fillUntilStalled(write.stream);
      } finally {
        thaw();
      }
      assert.ok(accepted <= 16 * 1024 * 1024, `took ${accepted} bytes while the server was frozen`);
      write.stream.end();
      assert.equal((await write.commit()).size, accepted);
    } finally {
      await driver.close?.();
    }
  });

  it('rejects incomplete settings with clear messages', () => {
    const parsed = sftpStorageConfig.safeParse({ type: 'sftp', host: 'h', username: 'u', path: 'relative' });
    assert.equal(parsed.success, false);
    const messages = parsed.error!.issues.map((i) => i.message);
    assert.ok(messages.includes('password or privateKey is required'), messages.join('; '));
    assert.ok(
      messages.some((m) => /path must be an absolute directory/.test(m)),
      messages.join('; '),
    );
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
