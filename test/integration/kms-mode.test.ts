/**
 * KMS mode end to end, against moto's KMS: a named KMS key of the installation (hindsight key kms
 * add), a database whose backups are wrapped by it, restored table for table by the worker through
 * the catalog's sealed configuration and by `hindsight decrypt --kms-config` from storage alone. A
 * disabled KMS key stops a restore with the key named; enabled again, the backup restores. WAL and
 * base backups are wrapped by the key too, and a point-in-time restore replays them through it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { decodeHeader } from '../../lib/crypto/backup-header.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import { createAuthz, operatorActor } from '../../services/authz.ts';
import { rotateSecretKey, type KeyServiceDeps } from '../../services/key-rotation.ts';
import { addKmsKey, listKmsKeys, removeKmsKey } from '../../services/kms-keys.ts';
import { tableHashes, type TableHashes } from '../support/guide-platform.ts';
import { kmsAdmin, type KmsAdmin } from '../support/kms-moto.ts';
import {
  restore,
  restoredRows,
  startPitrSource,
  stopPitrPlatform,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');
const DATABASE = 'ledger';
const KEY_NAME = 'offsite';
const operator = operatorActor('test');

describe('KMS mode: backups wrapped by a named KMS key', () => {
  let moto: MotoServer;
  let admin: KmsAdmin;
  let platform: Platform;
  let source: PgTarget;
  let deps: KeyServiceDeps;
  let arn: string;
  let backupId: string;
  let atBackup: TableHashes;
  const secretAccessKey = randomBytes(20).toString('hex');
  const kmsConfig = () => ({
    provider: 'aws',
    keyId: arn,
    region: moto.region,
    endpoint: moto.endpoint,
    accessKeyId: 'AKIAKMSMODETEST',
    secretAccessKey,
  });
  const dumpFile = () => path.join(platform.backupsDir, DATABASE, `${backupId}.dump.hsb`);
  const restoreInto = async (into: string) => {
    const restore = await platform.ops.startRestore({ database: DATABASE, backupId, to: { database: into } });
    return restore.result();
  };

  before(async () => {
    moto = await startMoto();
    admin = kmsAdmin(moto);
    arn = await admin.createKey();
    const schema =
      "create table entries (id int primary key, memo text); insert into entries select g, md5(g::text) from generate_series(1, 3000) g; create table tags (name text primary key); insert into tags values ('a'), ('b')";
    ({ platform, source } = await startSeededPlatform(DATABASE, schema));
    deps = { runtime: platform.runtime, authz: createAuthz(platform.runtime.catalog.access) };
    await addKmsKey(deps, operator, { name: KEY_NAME, config: kmsConfig() });
    await platform.ops.addDatabase({
      name: DATABASE,
      url: targetUrl(source),
      verifyAfterBackup: false,
      encryption: { mode: 'kms', key: KEY_NAME },
    });
    backupId = (await (await platform.ops.startBackup(DATABASE)).result()).backupId;
    atBackup = await tableHashes(source);
  });

  after(async () => {
    await platform?.stop();
    admin?.close();
    await moto?.stop();
  });

  it('lists the named key without its credentials, and keeps them sealed in the catalog', async () => {
    const [key] = await listKmsKeys(deps, operator);
    assert.deepEqual(
      { name: key?.name, provider: key?.provider, keyRef: key?.keyRef, databases: key?.databases },
      { name: KEY_NAME, provider: 'aws', keyRef: arn, databases: [DATABASE] },
    );
    const { rows } = await platform.runtime.catalog.pool.query<{ row: string }>(
      'select k::text as row from kms_keys k',
    );
    assert.equal(rows[0]?.row.includes(secretAccessKey), false, 'the secret access key is sealed');
  });

  it('wraps every object of the backup by the KMS key its header names by ARN', async () => {
    for (const file of [`${backupId}.dump.hsb`, `${backupId}.roles.hsb`]) {
      const header = decodeHeader(await readFile(path.join(platform.backupsDir, DATABASE, file)));
      assert.deepEqual(
        { version: header.version, kind: header.wrappedKey?.kind, keyRef: header.wrappedKey?.keyRef },
        { version: 3, kind: 'aws-kms', keyRef: arn },
        file,
      );
    }
  });

  it('restores the backup table for table through the named key', async () => {
    await restoreInto('ledger_restored');
    assert.deepEqual(await tableHashes({ ...source, database: 'ledger_restored' }), atBackup);
  });

  it('decrypts the dump from storage with the KMS configuration alone, no keyring', async () => {
    const configFile = path.join(platform.dir, 'kms.json');
    await writeFile(configFile, JSON.stringify(kmsConfig()), { mode: 0o600 });
    const out = path.join(platform.dir, 'kms.dump');
    await run(process.execPath, [cli, 'decrypt', dumpFile(), '--kms-config', `@${configFile}`, '-o', out], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: platform.dir },
    });
    assert.equal((await readFile(out)).subarray(0, 5).toString('latin1'), 'PGDMP');
  });

  it('adds, lists and removes a named key from the CLI, audited with the credentials masked', async () => {
    const env = { ...process.env, ...platform.configEnv };
    const spareArn = await admin.createKey('alias/hindsight-spare');
    const configFile = path.join(platform.dir, 'spare.json');
    await writeFile(configFile, JSON.stringify({ ...kmsConfig(), keyId: 'alias/hindsight-spare' }), { mode: 0o600 });
    await run(process.execPath, [cli, 'key', 'kms', 'add', 'spare', '--config', `@${configFile}`], { env });
    const listed = JSON.parse((await run(process.execPath, [cli, 'key', 'kms', 'list', '--json'], { env })).stdout);
    assert.deepEqual(
      listed.map((k: { name: string; keyRef: string }) => [k.name, k.keyRef]),
      [
        [KEY_NAME, arn],
        ['spare', spareArn],
      ],
      'the alias is recorded as the ARN of its key',
    );
    assert.equal(JSON.stringify(listed).includes(secretAccessKey), false);
    await run(process.execPath, [cli, 'key', 'kms', 'remove', 'spare'], { env });
    const audit = await platform.runtime.catalog.access.listAudit({ action: 'key.kms.add' });
    assert.deepEqual(
      audit.map((e) => [e.targetName, e.outcome]),
      [
        ['spare', 'ok'],
        [KEY_NAME, 'ok'],
      ],
      'newest first',
    );
    assert.equal(JSON.stringify(audit).includes(secretAccessKey), false, 'no secret in the audit log');
    const removed = await platform.runtime.catalog.access.listAudit({ action: 'key.kms.remove' });
    assert.deepEqual(
      removed.map((e) => [e.targetName, e.outcome]),
      [['spare', 'ok']],
    );
  });

  it('refuses to remove the key while the database uses it', async () => {
    await assert.rejects(
      removeKmsKey(deps, operator, KEY_NAME),
      new RegExp(`KMS key "${KEY_NAME}" is in use by database\\(s\\) ${DATABASE}`),
    );
  });

  it('a disabled KMS key stops the restore, naming the key; enabled again, it restores', async () => {
    await admin.disable(arn);
    try {
      await assert.rejects(restoreInto('ledger_disabled'), (error: Error) => {
        assert.match(
          String((error.cause as Error)?.message),
          new RegExp(`KMS key ${arn.replace(/[/.]/g, '\\$&')} is disabled: enable it`),
        );
        return true;
      });
    } finally {
      await admin.enable(arn);
    }
    await restoreInto('ledger_enabled');
    assert.deepEqual(await tableHashes({ ...source, database: 'ledger_enabled' }), atBackup);
  });

  it('re-seals the KMS credentials in a secret key rotation, and the backup still restores', async () => {
    const { resealed } = await rotateSecretKey(deps, operator);
    assert.equal(resealed['kms_keys.sealed_secrets'], 1);
    await restoreInto('ledger_rotated');
    assert.deepEqual(await tableHashes({ ...source, database: 'ledger_rotated' }), atBackup);
  });
});

describe('KMS mode: WAL and base backups wrapped by the KMS key, restored to a point in time', () => {
  const PITR_DB = 'journal';
  let moto: MotoServer;
  let admin: KmsAdmin;
  let platform: Platform;
  let source: PitrSource;
  let arn: string;
  const restoredDirs: string[] = [];

  before(async () => {
    moto = await startMoto();
    admin = kmsAdmin(moto);
    arn = await admin.createKey();
    platform = await startPlatform();
    source = await startPitrSource(platform, PITR_DB);
    await platform.startWorker();
    const deps = { runtime: platform.runtime, authz: createAuthz(platform.runtime.catalog.access) };
    const config = { provider: 'aws', keyId: arn, region: moto.region, endpoint: moto.endpoint };
    await addKmsKey(deps, operator, {
      name: 'wal-key',
      config: { ...config, accessKeyId: 'AKIAKMSWALTEST', secretAccessKey: randomBytes(20).toString('hex') },
    });
    await platform.ops.addDatabase({
      name: PITR_DB,
      url: targetUrl(source.target),
      verifyAfterBackup: false,
      encryption: { mode: 'kms', key: 'wal-key' },
    });
    await platform.runtime.catalog.wal.updateSettings(PITR_DB, { enabled: true, partialIntervalMs: 500 });
    const args: WalArchiverInput = { database: PITR_DB };
    await platform.client.workflow.start('walArchiver', {
      taskQueue: platform.config.taskQueue,
      workflowId: `wal/${PITR_DB}`,
      args: [args],
    });
    await takeBaseBackup(platform, PITR_DB, 'first');
    await writeRows(source, 1500, 100);
    await waitUntilArchived(platform, source, 60_000);
  });

  after(async () => {
    await stopPitrPlatform({ platform, source, database: PITR_DB, restoredDirs });
    admin?.close();
    await moto?.stop();
  });

  it('wraps every WAL segment and the base backup by the KMS key, named by ARN', async () => {
    const entries = await readdir(platform.backupsDir, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile() && e.name.endsWith('.hsb'))
      .map((e) => path.relative(platform.backupsDir, path.join(e.parentPath, e.name)));
    const wal = files.filter((f) => /^pitr\/\d+\/wal\//.test(f));
    const base = files.filter((f) => /^pitr\/\d+\/base\//.test(f));
    assert.ok(wal.length > 0 && base.length > 0, `WAL and base backup objects in storage: ${files.join(', ')}`);
    for (const file of [...wal, ...base]) {
      const header = decodeHeader(await readFile(path.join(platform.backupsDir, file)));
      assert.deepEqual(
        { kind: header.wrappedKey?.kind, keyRef: header.wrappedKey?.keyRef },
        { kind: 'aws-kms', keyRef: arn },
        file,
      );
    }
  });

  it('restores to the latest point through the KMS key, every row there', async () => {
    const dir = path.join(platform.dir, 'restored-latest');
    restoredDirs.push(dir);
    const outcome = await restore(platform, { database: PITR_DB, target: 'latest', to: { directory: dir } }, 'latest');
    const restored = await restoredRows(source, outcome.port!);
    const all = await source.query<{ id: number }>('select id from events order by id');
    assert.deepEqual(
      restored.map((r) => r.id),
      all.map((r) => r.id),
    );
  });
});
