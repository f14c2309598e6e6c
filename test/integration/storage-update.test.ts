import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { operatorActor } from '../../services/authz.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { startHttpReceiver } from '../support/notify-receivers.ts';
import { createDatabase, tableFingerprint, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { newBucket, objectExists, rawClient, s3StorageSettings } from '../support/s3-moto-helpers.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

const orders =
  'create table orders (id int primary key, note text); insert into orders select g, md5(g::text) from generate_series(1, 3000) g';

/** Every audit entry of `action`, as the JSON the log holds. */
async function auditOf(platform: Platform, action: string) {
  const entries = await platform.runtime.catalog.access.listAudit({ action });
  return { entries, text: JSON.stringify(entries) };
}

describe('storage update: a partial change merged over the stored settings, secrets kept', () => {
  let platform: Platform;
  let source: PgTarget;
  let moto: MotoServer;
  let s3: S3Client;
  let bucket: string;
  let user: { accessKeyId: string; secretAccessKey: string };
  const operator = operatorActor('test');
  const cli = (args: string[]) => hindsightResult(platform.configEnv, args);
  /** A backup of shop, complete, to the S3 storage only. */
  const backUp = async () => {
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(outcome.status, 'complete');
    return outcome.backupId;
  };

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', orders));
    // Authentication on: a backup after the change gets in only with the secret kept from before it.
    moto = await startMoto();
    user = await moto.createS3User('hindsight-offsite');
    s3 = rawClient(moto, user);
    bucket = await newBucket(s3, 'update');
    await moto.enableAuth();
    await platform.ops.saveStorage('offsite', s3StorageSettings(moto, bucket, user));
    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: ['offsite'],
      verifyAfterBackup: false,
    });
  });

  after(async () => {
    s3?.destroy();
    await moto?.stop();
    await platform?.stop();
  });

  it('moves the endpoint without the key: a new backup lands there and an older one still restores by id', async () => {
    const older = await backUp();
    const fingerprintOlder = await tableFingerprint(source, 'orders', 'id');
    const client = await connect('grow', source);
    await client.query("insert into orders select g, 'later' from generate_series(3001, 3500) g");
    await client.end();

    // The same moto under another name for the loopback: an equivalent endpoint.
    const endpoint = `http://localhost:${moto.port}`;
    const changed = await cli(['storage', 'update', 'offsite', '--config', JSON.stringify({ endpoint })]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /storage "offsite" changed \(connection test passed\)/);
    const stored = await platform.runtime.catalog.storageConfig('offsite');
    const { accessKeyId, secretAccessKey } = user;
    assert.deepEqual(
      stored,
      { ...stored, endpoint, bucket, accessKeyId, secretAccessKey },
      'only the endpoint changed',
    );

    const newer = await backUp();
    assert.equal(await objectExists(s3, bucket, `shop/${newer}.dump.hsb`), true);

    await createDatabase(platform.cluster, 'shop_older');
    const restored = { ...source, database: 'shop_older' };
    await (
      await platform.ops.startRestore({ database: 'shop', backupId: older, to: { url: targetUrl(restored) } })
    ).result();
    assert.deepEqual(await tableFingerprint(restored, 'orders', 'id'), fingerprintOlder);
    assert.notDeepEqual(await tableFingerprint(source, 'orders', 'id'), fingerprintOlder, 'the source moved on');

    const { entries, text } = await auditOf(platform, 'storage.update');
    const entry = entries.find((e) => e.outcome === 'ok');
    assert.equal((entry?.after as Record<string, unknown>).endpoint, endpoint);
    assert.equal((entry?.after as Record<string, unknown>).secretAccessKey, '[secret]');
    assert.equal((entry?.before as Record<string, unknown>).endpoint, moto.endpoint);
    for (const out of [text, changed.stdout, changed.stderr]) assert.equal(out.includes(user.secretAccessKey), false);
  });

  it('refuses a type change, a bad field and a failing connection, saving nothing', async () => {
    const before = await platform.runtime.catalog.storageConfig('offsite');
    const update = (change: Record<string, unknown>) => platform.services.storages.update(operator, 'offsite', change);
    await assert.rejects(
      update({ type: 'local', path: path.join(platform.dir, 'elsewhere') }),
      /storage "offsite" is of type s3 and its type cannot change to local: add a new storage/,
    );
    await assert.rejects(update({ bucket: 42 }), /bucket/);
    const closed = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(
      update({ endpoint: closed }),
      /storage "offsite" was not changed \(its stored settings are kept\): the connection test failed at write: .*hindsight storage update offsite/,
    );
    const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
    await assert.rejects(update({ secretAccessKey: wrongSecret }), /storage "offsite" was not changed/);
    // It holds the backups of the test above: pointing it elsewhere would lose them by id.
    await assert.rejects(
      update({ prefix: 'elsewhere/' }),
      /storage "offsite" holds [1-9]\d* backup copies, and changing its prefix would leave them unreachable: move the objects/,
    );
    assert.deepEqual(await platform.runtime.catalog.storageConfig('offsite'), before);

    const viaCli = await cli(['storage', 'update', 'offsite', '--config', '{"type":"azure"}']);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /its type cannot change to azure: add a new storage/);

    const { entries, text } = await auditOf(platform, 'storage.update');
    // The bad field and both refused connection tests; the type change is refused before any work.
    assert.equal(entries.filter((e) => e.outcome === 'failed').length, 3);
    for (const secret of [user.secretAccessKey, wrongSecret]) assert.equal(text.includes(secret), false);
  });
});

describe('notifier update: a new receiver and events, the signing secret kept', () => {
  let platform: Platform;
  const operator = operatorActor('test');
  const secrets = {
    slackPath: '/unused-slack',
    discordPath: '/unused-discord',
    teamsPath: '/unused-teams',
    telegramToken: '1:unused',
    webhookHeader: `key-${randomBytes(8).toString('hex')}`,
    webhookSecret: `sign-${randomBytes(12).toString('hex')}`,
  };
  let first: Awaited<ReturnType<typeof startHttpReceiver>>;
  let second: Awaited<ReturnType<typeof startHttpReceiver>>;

  before(async () => {
    ({ platform } = await startSeededPlatform('shop', orders, { worker: false }));
    [first, second] = [await startHttpReceiver(secrets), await startHttpReceiver(secrets)];
    await platform.services.notifiers.save(
      operator,
      'ops-hook',
      {
        type: 'webhook',
        url: `${first.url}/hook`,
        headers: { 'x-api-key': secrets.webhookHeader },
        secret: secrets.webhookSecret,
      },
      ['backup_failed'],
    );
  });

  after(async () => {
    await first?.close();
    await second?.close();
    await platform?.stop();
  });

  it('sends the next test to the new URL, signed and keyed as before, and hears of the new events', async () => {
    assert.equal((await platform.services.notifiers.test(operator, 'ops-hook')).ok, true);
    assert.equal(first.received.length, 1);

    const changeFile = path.join(platform.dir, 'hook-change.json');
    await writeFile(changeFile, JSON.stringify({ url: `${second.url}/hook` }), { mode: 0o600 });
    const changed = await hindsightResult(platform.configEnv, [
      'notifier',
      'update',
      'ops-hook',
      '--config-file',
      changeFile,
      '--events',
      'backup_failed,backup_succeeded',
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /notifier "ops-hook" changed \(webhook: .*events backup_failed, backup_succeeded\)/);

    const sent = await platform.services.notifiers.test(operator, 'ops-hook');
    assert.equal(sent.ok, true, sent.detail);
    // The receiver checks the key header and the signature: both were kept though not given.
    assert.deepEqual(
      second.received.map((r) => r.channel),
      ['webhook'],
    );
    assert.deepEqual([first.received.length, first.refused, second.refused], [1, [], []]);
    assert.deepEqual((await platform.services.notifiers.get(operator, 'ops-hook')).events, [
      'backup_failed',
      'backup_succeeded',
    ]);

    await assert.rejects(
      platform.services.notifiers.update(operator, 'ops-hook', { config: { type: 'slack' } }),
      /notifier "ops-hook" is of type webhook and its type cannot change to slack: add a new notifier/,
    );
    const { text } = await auditOf(platform, 'notifier.update');
    const hidden = [secrets.webhookHeader, secrets.webhookSecret, `${first.url}/hook`, `${second.url}/hook`];
    for (const out of [text, changed.stdout, changed.stderr])
      for (const secret of hidden) assert.equal(out.includes(secret), false, `${secret} shown`);
  });
});
