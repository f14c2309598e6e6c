import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeHeader } from '../../lib/crypto/chunked-gcm.ts';

/** Enough bytes for any header: 50 fixed, 2 of length, the identity (at most 4 KiB). */
const HEADER_BYTES = 8192;
import { keyFileIn } from '../../lib/crypto/keyring.ts';
import { sealedKeyId } from '../../lib/crypto/sealed.ts';
import { notifierConfigSchema } from '../../lib/notify/config.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createAuthz, operatorActor } from '../../services/authz.ts';
import { rotateSecretKey, type KeyServiceDeps } from '../../services/key-rotation.ts';
import { runtimeWarnings } from '../../scripts/runtime-warnings.ts';
import { KEY_ID_METADATA } from '../../temporal/codec.ts';
import {
  createDatabase,
  createFilledDatabase,
  startPlatform,
  tableFingerprint,
  type Platform,
} from '../support/platform.ts';
import { s3StorageSettings } from '../support/s3-moto-helpers.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

const sourceSchema = `
  create table customers (id bigserial primary key, email text not null, note text);
  insert into customers (email, note) select 'c' || g || '@example.org', repeat(md5(g::text), 1 + g % 4) from generate_series(1, 20000) g;
  create table orders (id bigint primary key, customer_id bigint not null, total numeric(12,2) not null);
  insert into orders select g, 1 + g % 20000, g * 0.37 from generate_series(1, 40000) g;
`;
const tables: Array<[string, string]> = [
  ['customers', 'id'],
  ['orders', 'id'],
];

/** Every sealed value in the catalog, by column, with the key id it names. */
async function sealedKeyIds(platform: Platform): Promise<string[]> {
  const { rows } = await platform.runtime.catalog.pool.query<{ v: string }>(`
    select sealed_password as v from databases where sealed_password is not null
    union all select sealed_base_backup_url from databases where sealed_base_backup_url is not null
    union all select sealed_secrets from storages where sealed_secrets is not null
    union all select sealed_secrets from notifiers where sealed_secrets is not null
    union all select sealed_restore_drill_url from databases where sealed_restore_drill_url is not null
    union all select sealed_secret from totp_factors
    union all select sealed_client_secret from identity_providers`);
  return rows.map((r) => sealedKeyId(r.v) ?? 'malformed');
}

async function headerKeyId(s3: S3Client, bucket: string, key: string): Promise<string> {
  const object = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${HEADER_BYTES - 1}` }),
  );
  return decodeHeader(Buffer.from(await object.Body!.transformToByteArray())).keyId;
}

describe('secret key rotation', () => {
  let platform: Platform;
  let moto: MotoServer;
  let s3: S3Client;
  let bucket: string;
  let source: PgTarget;
  let deps: KeyServiceDeps;
  let env: NodeJS.ProcessEnv;
  let firstKeyId: string;
  let backupBefore: string;
  let backupAfter: string;
  const keptCopy = () => path.join(platform.dir, `${backupAfter}.dump.hsb`);
  let fingerprintsBefore: Array<{ rows: number; md5: string }>;
  const operator = operatorActor('test');

  before(async () => {
    platform = await startPlatform();
    env = { ...process.env, ...platform.configEnv };
    deps = { runtime: platform.runtime, authz: createAuthz(platform.runtime.catalog.access) };
    // S3 with authentication on: only the real, unsealed credentials get in.
    moto = await startMoto();
    const user = await moto.createS3User('hindsight-offsite');
    s3 = new S3Client({ region: moto.region, endpoint: moto.endpoint, forcePathStyle: true, credentials: user });
    bucket = `rotation-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await moto.enableAuth();
    await platform.ops.saveStorage('offsite', s3StorageSettings(moto, bucket, user));

    source = await createFilledDatabase(platform.cluster, 'shop', sourceSchema);
    await platform.startWorker();
    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: ['offsite', 'local'],
      verifyAfterBackup: false,
    });
    await platform.runtime.catalog.wal.updateSettings('shop', {
      baseBackupUrl: targetUrl({ ...source, database: 'postgres' }),
    });
    await platform.runtime.catalog.notifiers.upsert(
      'ops-slack',
      notifierConfigSchema.parse({ type: 'slack', url: 'https://hooks.slack.example/services/T0/B0/tokentokentoken' }),
    );
    // A restore drill's target: its URL carries a password, sealed like the others.
    await platform.runtime.catalog.restoreDrills.setDrillSettings('shop', {
      url: targetUrl({ ...source, database: 'postgres' }),
      cron: '0 3 1 * *',
    });
    // An identity provider's client secret, sealed like the others.
    await platform.runtime.catalog.identityProviders.addProvider({
      name: 'corp',
      displayName: 'Corp ID',
      issuer: 'https://id.example.com/realms/ops',
      clientId: 'hindsight',
      clientSecret: 'client-secret-of-corp',
      claim: 'groups',
      mappings: [],
    });
    firstKeyId = platform.runtime.key.id;
  });

  after(async () => {
    s3?.destroy();
    await moto?.stop();
    await platform?.stop();
  });

  it('backs up under the first key', async () => {
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(outcome.status, 'complete');
    backupBefore = outcome.backupId;
    fingerprintsBefore = await Promise.all(tables.map(([t, o]) => tableFingerprint(source, t, o)));
    assert.equal(await headerKeyId(s3, bucket, `shop/${backupBefore}.dump.hsb`), firstKeyId);
    assert.deepEqual(new Set(await sealedKeyIds(platform)), new Set([firstKeyId]));
    assert.equal(
      (await sealedKeyIds(platform)).length,
      6,
      'database password, standby URL, S3 credentials, notifier URL, restore drill URL, SSO client secret',
    );
  });

  it('is refused to a console user, even an owner, and the refusal is audited', async () => {
    const passwordFile = path.join(platform.dir, 'owner.pw');
    await writeFile(passwordFile, 'correct horse battery staple\n', { mode: 0o600 });
    await run(
      process.execPath,
      [cli, 'user', 'create', 'owner@example.org', '--owner', '--password-file', passwordFile],
      { env },
    );
    const refused = await run(process.execPath, [cli, 'key', 'rotate', '--as', 'owner@example.org'], { env }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(refused, /key\.rotate is for the local operator only/);
    assert.equal(platform.runtime.key.id, firstKeyId, 'the key did not change');
    const denied = await platform.runtime.catalog.access.listAudit({ action: 'key.rotate' });
    assert.deepEqual(
      denied.map((e) => [e.actor, e.outcome]),
      [['owner@example.org', 'denied']],
    );
  });

  it('rotates: the new key is kept by id beside the old, every catalog secret is re-sealed, then the key switches', async () => {
    // A console account with an authenticator app: its TOTP secret is a catalog secret too.
    const { catalog } = platform.runtime;
    const user = await catalog.access.createUser({ email: 'totp@example.org', displayName: '', passwordHash: 'x' });
    await catalog.secondFactors.saveTotpSecret(user.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    const outcome = await rotateSecretKey(deps, operator);
    assert.equal(outcome.previousKeyId, firstKeyId);
    assert.notEqual(outcome.keyId, firstKeyId);
    assert.deepEqual(outcome.resealed, {
      'databases.sealed_password': 1,
      'databases.sealed_base_backup_url': 1,
      'storages.sealed_secrets': 1,
      'notifiers.sealed_secrets': 1,
      // No server is registered in this installation: the column is known and has nothing to re-seal.
      'servers.sealed_password': 0,
      'databases.sealed_restore_drill_url': 1,
      'totp_factors.sealed_secret': 1,
      'identity_providers.sealed_client_secret': 1,
      // KMS keys need a KMS to be added (kms-mode.test.ts re-seals one against moto).
      'kms_keys.sealed_secrets': 0,
    });
    const { config } = platform;
    for (const id of [firstKeyId, outcome.keyId])
      assert.equal((await stat(keyFileIn(config.keysDir, id))).mode & 0o777, 0o600, `${id}.key is private`);
    assert.equal(
      (await readFile(config.secretKeyFile, 'utf8')).trim(),
      (await readFile(keyFileIn(config.keysDir, outcome.keyId), 'utf8')).trim(),
    );
    assert.equal(platform.runtime.key.id, outcome.keyId);
    assert.deepEqual(await sealedKeyIds(platform), Array(7).fill(outcome.keyId));
    // The re-sealed values open to what was sealed before.
    assert.equal((await platform.runtime.catalog.databaseTarget('shop')).password, platform.cluster.password);
    assert.equal((await platform.runtime.catalog.wal.baseBackupTarget('shop'))?.database, 'postgres');
    assert.match(JSON.stringify(await platform.runtime.catalog.notifiers.config('ops-slack')), /tokentokentoken/);
    assert.equal(
      (await platform.runtime.catalog.restoreDrills.drillTarget('shop'))?.password,
      platform.cluster.password,
    );
    assert.equal((await catalog.secondFactors.totpOf(user.id))?.secret, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    assert.equal(
      (await platform.runtime.catalog.identityProviders.providerWithSecret('corp')).clientSecret,
      'client-secret-of-corp',
    );
    const [entry] = await platform.runtime.catalog.access.listAudit({ action: 'key.rotate', actor: 'cli:test' });
    assert.equal(entry?.outcome, 'ok');
    assert.equal(entry?.targetName, firstKeyId);
    assert.deepEqual((entry?.after as { keyId: string }).keyId, outcome.keyId);
  });

  it('a backup after the rotation goes to the storage sealed before it, under the new key, payloads included', async () => {
    const started = await platform.ops.startBackup('shop');
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete', 'the S3 credentials sealed before the rotation still open');
    backupAfter = outcome.backupId;
    const record = await platform.runtime.catalog.getBackup(outcome.backupId);
    assert.deepEqual(
      record.copies.map((c) => [c.storageName, c.status]),
      [
        ['offsite', 'complete'],
        ['local', 'complete'],
      ],
    );
    const keyId = platform.runtime.key.id;
    assert.equal(await headerKeyId(s3, bucket, `shop/${outcome.backupId}.dump.hsb`), keyId);
    const manifest = JSON.parse(
      await readFile(path.join(platform.backupsDir, 'shop', `${outcome.backupId}.json`), 'utf8'),
    );
    assert.equal(manifest.encryption.keyId, keyId);
    const history = await platform.env.client.workflow.getHandle(started.workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.equal(
      Buffer.from(input?.metadata?.[KEY_ID_METADATA] ?? []).toString(),
      keyId,
      'the workflow input is encrypted under the new key',
    );
  });

  it('restores the backup made before the rotation from S3: every row as it was', async () => {
    // Only the S3 copy remains, so the restore needs the re-sealed credentials and the old key.
    await rm(path.join(platform.backupsDir, 'shop', `${backupBefore}.dump.hsb`));
    await createDatabase(platform.cluster, 'shop_before');
    const restoredTarget = { ...source, database: 'shop_before' };
    const outcome = await (
      await platform.ops.startRestore({
        database: 'shop',
        backupId: backupBefore,
        to: { url: targetUrl(restoredTarget) },
      })
    ).result();
    assert.equal(outcome.rowsChecked, 60000);
    assert.deepEqual(
      await Promise.all(tables.map(([t, o]) => tableFingerprint(restoredTarget, t, o))),
      fingerprintsBefore,
    );
  });

  it('names the missing key when a previous key is gone, and reads again once it is back', async () => {
    const oldFile = keyFileIn(platform.config.keysDir, firstKeyId);
    const aside = path.join(platform.dir, 'aside.key');
    const out = path.join(platform.dir, 'before.dump');
    await rename(oldFile, aside);
    try {
      const failed = await run(process.execPath, [cli, 'download', backupBefore, '-o', out], { env }).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
      assert.match(failed, new RegExp(`secret key ${firstKeyId} is not in the keyring`));
      assert.ok(failed.includes(oldFile), `the error names the file to restore: ${failed}`);
      await assert.rejects(stat(out), /ENOENT/, 'no partial archive is left');
    } finally {
      await rename(aside, oldFile);
    }
    // The S3 client runs in the CLI process, whose stderr the test runner does not see: checked here.
    const { stderr } = await run(process.execPath, [cli, 'download', backupBefore, '-o', out], { env });
    assert.deepEqual(stderr.split('\n').flatMap(runtimeWarnings), [], 'the CLI reading S3 printed no runtime warning');
    assert.equal((await readFile(out)).subarray(0, 5).toString(), 'PGDMP');
  });

  it('refuses to start when the catalog has a sealed column it does not know, changing nothing', async () => {
    const current = platform.runtime.key.id;
    const keysBefore = platform.runtime.keyring.entries().length;
    await platform.runtime.catalog.pool.query('alter table users add column sealed_recovery_code text');
    try {
      await assert.rejects(
        rotateSecretKey(deps, operator),
        /sealed columns users\.sealed_recovery_code that key rotation does not know/,
      );
    } finally {
      await platform.runtime.catalog.pool.query('alter table users drop column sealed_recovery_code');
    }
    assert.equal(platform.runtime.key.id, current);
    assert.deepEqual(new Set(await sealedKeyIds(platform)), new Set([current]), 'no secret was re-sealed');
    assert.equal(platform.runtime.keyring.entries().length, keysBefore, 'no key file was written');
  });

  it('survives a stop between the re-seal and the switch, and a second run completes the rotation', async () => {
    const current = platform.runtime.key.id;
    await assert.rejects(
      rotateSecretKey(deps, operator, {
        afterReseal: async () => {
          throw new Error('stopped before the switch');
        },
      }),
      /stopped before the switch/,
    );
    assert.equal(platform.runtime.key.id, current, 'the current key did not switch');
    const [pending] = new Set(await sealedKeyIds(platform));
    assert.notEqual(pending, current, 'the catalog is sealed under the new, not yet current key');
    assert.equal(
      (await platform.runtime.catalog.databaseTarget('shop')).password,
      platform.cluster.password,
      'and still opens',
    );
    const [failedEntry] = await platform.runtime.catalog.access.listAudit({ action: 'key.rotate', actor: 'cli:test' });
    assert.equal(failedEntry?.outcome, 'failed');

    // A copy taken before the rotation, as a download of the backup would be: it stays under its key.
    await copyFile(path.join(platform.backupsDir, 'shop', `${backupAfter}.dump.hsb`), keptCopy());
    const { stdout } = await run(process.execPath, [cli, 'key', 'rotate', '--json'], { env });
    const rotated = JSON.parse(stdout) as {
      previousKeyId: string;
      keyId: string;
      rewrap: { keyId: string; objects: { rewrap: number } };
    };
    assert.equal(rotated.previousKeyId, current);
    assert.equal(rotated.rewrap.keyId, rotated.keyId);
    assert.ok(rotated.rewrap.objects.rewrap > 0, 'the rotation moved the stored objects onto the new key');
    assert.equal(await headerKeyId(s3, bucket, `shop/${backupAfter}.dump.hsb`), rotated.keyId);
    assert.equal(platform.runtime.key.id, rotated.keyId, 'this process follows a rotation made by another one');
    const { stdout: listed } = await run(process.execPath, [cli, 'key', 'list', '--json'], { env });
    const keys = JSON.parse(listed) as Array<{ id: string; current: boolean; sealedSecrets: number }>;
    assert.deepEqual(
      keys.filter((k) => k.current).map((k) => [k.id, k.sealedSecrets]),
      // The six of the first backup's test, and the TOTP secret of the rotation's test.
      [[rotated.keyId, 7]],
    );
    assert.deepEqual(new Set(keys.map((k) => k.id)), new Set([firstKeyId, current, pending, rotated.keyId]));
    assert.ok(
      keys.filter((k) => !k.current).every((k) => k.sealedSecrets === 0),
      'no catalog secret needs an earlier key',
    );
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(await headerKeyId(s3, bucket, `shop/${outcome.backupId}.dump.hsb`), rotated.keyId);
  });

  it('decrypts a file without --key: an earlier key its header names is found in the keyring', async () => {
    const file = keptCopy();
    const { keyId } = decodeHeader((await readFile(file)).subarray(0, HEADER_BYTES));
    assert.notEqual(keyId, platform.runtime.key.id, 'the file is under a key that is no longer current');
    const out = path.join(platform.dir, 'after.dump');
    await run(process.execPath, [cli, 'decrypt', file, '-o', out], { env });
    assert.equal((await readFile(out)).subarray(0, 5).toString(), 'PGDMP');
  });
});
