import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { rcloneSecretFields, rcloneStorageConfig, type RcloneStorageConfig } from '../../lib/storage/rclone/config.ts';
import { createRcloneStorage } from '../../lib/storage/rclone/driver.ts';
import { flagsOutsideAllowList, parseRcloneRemote, remoteProblem } from '../../lib/storage/rclone/policy.ts';
import { freePort } from '../support/ports.ts';
import { startMoto } from '../support/servers/moto.ts';
import { describeStorageContract } from '../support/storage-contract.ts';

const VAULT_CONFIG = '[vault]\ntype = local\n';

function rclone(name: string, fields: Omit<RcloneStorageConfig, 'type'>): StorageDriver {
  return createRcloneStorage({ name, config: { type: 'rclone', ...fields } });
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'hindsight-rclone-test-'));
}

async function expectFailure(action: Promise<unknown>, kind: string): Promise<HindsightError> {
  try {
    await action;
  } catch (error) {
    assert.ok(error instanceof HindsightError, `a HindsightError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return error;
  }
  assert.fail(`expected a ${kind} failure`);
}

describeStorageContract('rclone (local backend)', async () => {
  const root = await tempDir();
  const driver = rclone('vault', { remote: `vault:${root}`, configText: VAULT_CONFIG });
  return { driver, cleanup: () => rm(root, { recursive: true, force: true }) };
});

describeStorageContract('rclone (s3 backend on moto)', async () => {
  const moto = await startMoto();
  const bucket = 'rclone-contract';
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    region: moto.region,
    forcePathStyle: true,
    credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // moto answers a multipart upload to an unversioned bucket with version id "null" and then
  // rejects rclone's HEAD for that version; on a versioned bucket both agree.
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  s3.destroy();
  const configText = [
    '[offsite]',
    'type = s3',
    'provider = Other',
    `endpoint = ${moto.endpoint}`,
    `access_key_id = ${moto.accessKeyId}`,
    `secret_access_key = ${moto.secretAccessKey}`,
    `region = ${moto.region}`,
    '',
  ].join('\n');
  const driver = rclone('offsite', { remote: `offsite:${bucket}/backups`, configText });
  return { driver, cleanup: () => moto.stop() };
});

describe('rclone storage driver', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const scratch = async (): Promise<string> => {
    const dir = await tempDir();
    cleanups.push(async () => {
      await chmod(dir, 0o700).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });
    return dir;
  };
  const opened = (driver: StorageDriver): StorageDriver => {
    cleanups.push(async () => driver.close?.());
    return driver;
  };

  it('validates its settings and marks configText as the secret', () => {
    assert.deepEqual([...rcloneSecretFields], ['configText']);
    const ok = (fields: Record<string, unknown>) =>
      rcloneStorageConfig.safeParse({ type: 'rclone', ...fields }).success;
    assert.equal(ok({ remote: 'gdrive:backups' }), true);
    assert.equal(
      ok({
        remote: 'vault:/srv/backups',
        configText: VAULT_CONFIG,
        rcloneBinary: '/usr/bin/rclone',
        extraFlags: ['--s3-chunk-size=8M', '--fast-list'],
      }),
      true,
    );
    assert.equal(ok({ remote: ":s3,provider=Minio,endpoint='http://127.0.0.1:9000':bucket/path" }), true);
    assert.equal(ok({}), false, 'remote is required');
    assert.equal(ok({ remote: '  ' }), false, 'remote must not be blank');
    assert.equal(ok({ remote: '/srv/backups' }), false, 'a bare path is not a remote');
    assert.equal(ok({ remote: '-v:x' }), false, 'a remote must not read as a flag');
    assert.equal(ok({ remote: 'a:b', extraFlags: ['-v'] }), false, 'flags start with --');
    assert.equal(
      ok({ remote: 'a:b', extraFlags: ['--config=/root/.config/rclone/rclone.conf'] }),
      false,
      '--config is ours',
    );
    const parsed = rcloneStorageConfig.safeParse({ type: 'rclone', remote: 'a:b', extraFlags: ['-v'] });
    assert.match(JSON.stringify(parsed.error?.issues), /must start with \\"--\\"/);
    assert.throws(
      () => createRcloneStorage({ name: 'broken', config: { type: 'rclone', remote: 'nocolon' } }),
      (error: unknown) => {
        assert.ok(error instanceof HindsightError);
        assert.equal(error.kind, 'bad_input');
        assert.match(error.message, /storage rclone "broken": invalid settings: remote:/);
        return true;
      },
    );
  });

  it('removes the partial object when a write is aborted, and sweeps an abandoned one', async () => {
    const root = await scratch();
    const driver = opened(rclone('vault', { remote: `vault:${root}`, configText: VAULT_CONFIG }));
    const aborted = await driver.openWrite('db/a.bin');
    // Past rclone's streaming cutoff (100 KiB), so the partial file exists on disk.
    await new Promise<void>((resolve, reject) =>
      aborted.stream.write(Buffer.alloc(512 * 1024), (e) => (e ? reject(e) : resolve())),
    );
    await waitFor(async () => (await readdir(path.join(root, 'db')).catch(() => [])).length === 1);
    await aborted.abort();
    assert.deepEqual(await readdir(path.join(root, 'db')), []);

    const abandoned = await driver.openWrite('db/b.bin');
    await new Promise<void>((resolve, reject) =>
      abandoned.stream.write(Buffer.alloc(512 * 1024), (e) => (e ? reject(e) : resolve())),
    );
    await waitFor(async () => (await readdir(path.join(root, 'db'))).length === 1);
    const [partial] = await readdir(path.join(root, 'db'));
    assert.match(partial!, /^\.b\.bin\.partial-[0-9a-f]{12}$/);
    assert.equal(await driver.sweepAbandonedWrites('db/b.bin', 60_000), 0, 'a fresh partial is kept');
    assert.equal(await driver.sweepAbandonedWrites('db/other.bin', 0), 0, 'only partials of the key given');
    assert.equal(await driver.sweepAbandonedWrites('db/b.bin', 0), 1);
    abandoned.stream.destroy();
    assert.deepEqual(await readdir(path.join(root, 'db')), []);
  });

  it('writes its config to a private file, passes it on every call, and removes it on close', async () => {
    const dir = await scratch();
    const log = path.join(dir, 'config-seen.log');
    const wrapper = path.join(dir, 'rclone-wrapper.sh');
    await writeFile(
      wrapper,
      `#!/bin/sh\nprev=""\nfor arg in "$@"; do\n  if [ "$prev" = "--config" ]; then stat -c '%a %n' "$arg" >> '${log}'; fi\n  prev="$arg"\ndone\nexec rclone "$@"\n`,
      { mode: 0o755 },
    );
    const driver = rclone('wrapped', { remote: `vault:${dir}/data`, configText: VAULT_CONFIG, rcloneBinary: wrapper });
    const write = await driver.openWrite('x.txt');
    await pipeline(Readable.from([Buffer.from('hello')]), write.stream);
    await write.commit();
    assert.equal((await driver.list('')).length, 1);
    const seen = (await readFile(log, 'utf8')).trim().split('\n');
    assert.ok(seen.length >= 3, seen.join('\n'));
    const files = new Set(seen.map((line) => line.split(' ')[1]));
    assert.equal(files.size, 1, 'one config file per driver');
    assert.ok(
      seen.every((line) => line.startsWith('600 ')),
      seen.join('\n'),
    );
    const configFile = [...files][0]!;
    assert.equal(await readFile(configFile, 'utf8'), VAULT_CONFIG);
    await driver.close?.();
    await assert.rejects(stat(configFile), { code: 'ENOENT' });
    await expectFailure(driver.stat('x.txt'), 'bad_input');
  });

  it("runs the installation's rclone (HINDSIGHT_RCLONE_BINARY) when the storage names none", async () => {
    const dir = await scratch();
    const log = path.join(dir, 'instance-rclone.log');
    const wrapper = path.join(dir, 'instance-rclone.sh');
    await writeFile(wrapper, `#!/bin/sh\necho "$1" >> '${log}'\nexec rclone "$@"\n`, { mode: 0o755 });
    const saved = process.env.HINDSIGHT_RCLONE_BINARY;
    process.env.HINDSIGHT_RCLONE_BINARY = wrapper;
    try {
      const driver = opened(rclone('instance', { remote: `vault:${dir}/data`, configText: VAULT_CONFIG }));
      const write = await driver.openWrite('y.txt');
      await pipeline(Readable.from([Buffer.from('hi')]), write.stream);
      await write.commit();
    } finally {
      if (saved === undefined) delete process.env.HINDSIGHT_RCLONE_BINARY;
      else process.env.HINDSIGHT_RCLONE_BINARY = saved;
    }
    const commands = (await readFile(log, 'utf8')).trim().split('\n');
    assert.ok(commands.includes('rcat') && commands.includes('moveto'), commands.join(' '));
  });

  it('tells which flags, backends and parameters are beyond a workspace admin', () => {
    assert.deepEqual(flagsOutsideAllowList(['--bwlimit=10M', '--s3-chunk-size=8M', '--fast-list']), []);
    assert.deepEqual(
      flagsOutsideAllowList(['--password-command=/bin/sh -c x', '--log-file=/etc/passwd', '--Password_Command=x']),
      ['--password-command', '--log-file'],
    );
    assert.deepEqual(flagsOutsideAllowList(['--ca-cert=/root/ca.pem']), ['--ca-cert'], 'a flag reading a worker file');
    assert.deepEqual(parseRcloneRemote(":s3,provider=Minio,endpoint='http://127.0.0.1:9000':bucket/path"), {
      onTheFly: true,
      name: 's3',
      parameters: ['provider', 'endpoint'],
    });
    assert.deepEqual(parseRcloneRemote('gdrive:backups'), { onTheFly: false, name: 'gdrive', parameters: [] });
    assert.equal(remoteProblem(":s3,provider=Minio,endpoint='http://127.0.0.1:9000':bucket/path"), undefined);
    assert.equal(remoteProblem('gdrive:backups'), undefined);
    assert.match(remoteProblem(':local:/etc') ?? '', /backend "local" reaches the shared worker's own files/);
    assert.match(remoteProblem(':alias,remote=/var/lib:x') ?? '', /backend "alias"/);
    assert.match(remoteProblem(":sftp,host=example.org,ssh='sh -c evil':x") ?? '', /parameter "ssh" can run a program/);
    assert.match(
      remoteProblem('offsite,env_auth=true:bucket') ?? '',
      /parameter "env_auth"/,
      "a named remote's overrides count too",
    );
    assert.match(
      remoteProblem(":webdav,url='https://x',bearer-token-command=id:x") ?? '',
      /parameter "bearer_token_command"/,
    );
    assert.ok(
      !(
        remoteProblem(':s3,secret_access_key=TOPSECRETVALUE,shared_credentials_file=/root/.aws/credentials:b') ?? ''
      ).includes('TOPSECRETVALUE'),
      'values are never repeated',
    );
  });

  it('holds back a writer while rclone does not read', async () => {
    const dir = await scratch();
    const stalled = path.join(dir, 'stalled-rclone.sh');
    // An rclone whose upload never reads its input; every other command is the real one.
    await writeFile(stalled, '#!/bin/sh\nif [ "$1" = rcat ]; then exec sleep 60; fi\nexec rclone "$@"\n', {
      mode: 0o755,
    });
    const driver = opened(
      rclone('stalled', { remote: `vault:${dir}/data`, configText: VAULT_CONFIG, rcloneBinary: stalled }),
    );
    const write = await driver.openWrite('big.bin');
    const chunk = Buffer.alloc(64 * 1024);
    let accepted = 0;
    while (accepted < 64 * 1024 * 1024 && write.stream.write(chunk)) accepted += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(accepted < 2 * 1024 * 1024, `accepted ${accepted} bytes without rclone reading`);
    assert.ok(write.stream.writableLength < 2 * 1024 * 1024, `buffered ${write.stream.writableLength} bytes`);
    await write.abort();
  });

  it('reports a remote name missing from the config as bad settings', async () => {
    const driver = opened(rclone('typo', { remote: 'nosuchremote:backups', configText: VAULT_CONFIG }));
    const result = await testStorageConnection(driver);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.stage, 'write');
    assert.equal(result.kind, 'bad_input', result.message);
    assert.match(
      result.message,
      /storage rclone "typo": unable to write '\.hindsight-connection-test\/.*didn't find section in config file/,
    );
  });

  it('reports a location it may not write to as access denied', async () => {
    let remote: string;
    if (process.getuid?.() === 0) {
      // root ignores directory modes; the kernel still refuses new entries in /sys.
      remote = 'vault:/sys/hindsight-rclone-probe';
    } else {
      const dir = await scratch();
      await chmod(dir, 0o500);
      remote = `vault:${dir}`;
    }
    const driver = opened(rclone('readonly', { remote, configText: VAULT_CONFIG }));
    const result = await testStorageConnection(driver);
    assert.ok(!result.ok, 'the connection test fails');
    assert.equal(result.stage, 'write');
    assert.equal(result.kind, 'access_denied', result.message);
    assert.match(result.message, /permission denied|not permitted|read-only/);
  });

  it('reports a server that is down as unreachable, quickly, without its secret', async () => {
    const port = await freePort();
    const secret = 'TopSecretValue42xyz';
    const configText = `[down]\ntype = s3\nprovider = Other\nendpoint = http://127.0.0.1:${port}\naccess_key_id = visible\nsecret_access_key = ${secret}\nregion = us-east-1\n`;
    const driver = opened(rclone('down', { remote: 'down:bucket/x', configText }));
    const result = await testStorageConnection(driver);
    assert.ok(!result.ok, 'the connection test fails');
    assert.equal(result.kind, 'unreachable', result.message);
    assert.match(result.message, /connection refused/);
    assert.ok(result.elapsedMs < 20_000, `took ${result.elapsedMs} ms`);
    assert.ok(!result.message.includes(secret));
    const error = await expectFailure(driver.stat('a/b'), 'unreachable');
    assert.ok(!error.message.includes(secret));
  });

  it('keeps secrets rclone echoes back out of its messages', async () => {
    const inRemote = rclone('inline', { remote: ':nosuchbackend,pass=hunter2secret,user=alice:x' });
    cleanups.push(async () => inRemote.close?.());
    const first = await expectFailure(inRemote.stat('k'), 'bad_input');
    assert.ok(!first.message.includes('hunter2secret'), first.message);
    assert.match(first.message, /pass=\*\*\*/);

    // An rclone that prints its whole config on failure: the worst it could ever echo.
    const dir = await scratch();
    const echoing = path.join(dir, 'echoing-rclone.sh');
    await writeFile(
      echoing,
      '#!/bin/sh\nprev=""\nfor arg in "$@"; do\n  if [ "$prev" = "--config" ]; then cat "$arg" >&2; fi\n  prev="$arg"\ndone\nexit 1\n',
      { mode: 0o755 },
    );
    const configText = [
      '[drive]',
      'type = drive',
      'client_id = visible-client-id.apps.example.com',
      'client_secret = ClientSecretValue123',
      'token = {"access_token":"AccessTokenValue456","token_type":"Bearer","refresh_token":"RefreshTokenValue789","expiry":"2030-01-01T00:00:00Z"}',
      '',
    ].join('\n');
    const inConfig = opened(rclone('echoing', { remote: 'drive:backups', configText, rcloneBinary: echoing }));
    const second = await expectFailure(inConfig.stat('k'), 'tool_failed');
    for (const secret of ['ClientSecretValue123', 'AccessTokenValue456', 'RefreshTokenValue789']) {
      assert.ok(!second.message.includes(secret), second.message);
    }
    assert.match(second.message, /visible-client-id/, 'settings that are not credentials stay readable');
  });

  it('names a missing rclone binary and how to install it', async () => {
    const driver = opened(
      rclone('nobinary', { remote: 'vault:/tmp', configText: VAULT_CONFIG, rcloneBinary: '/nonexistent/rclone' }),
    );
    const error = await expectFailure(driver.openWrite('x'), 'bad_input');
    assert.match(error.message, /rclone binary '\/nonexistent\/rclone' was not found.*apt-get install rclone/);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
