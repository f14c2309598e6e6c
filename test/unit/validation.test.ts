import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { parsePgUrl } from '../../lib/pg/connection.ts';
import { backupDatabaseInput } from '../../temporal/contracts/backup.ts';
import { describeInputError } from '../../temporal/contracts/common.ts';
import { restoreBackupInput } from '../../temporal/contracts/restore.ts';
import { addDatabaseInput } from '../../services/databases/input.ts';

function inputError(
  schema: typeof backupDatabaseInput | typeof restoreBackupInput,
  name: string,
  value: unknown,
): string {
  const parsed = schema.safeParse(value);
  assert.equal(parsed.success, false, 'the input must be rejected');
  return describeInputError(name, parsed.error!);
}

describe('configuration', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    assert.equal(config.temporalAddress, '127.0.0.1:7233');
    assert.equal(config.webPort, 3000);
    assert.match(config.secretKeyFile, /data\/secret\.key$/);
  });

  it('bounds the worker workflow cache: 500 by default, a set number, and no fewer than 2', () => {
    assert.equal(loadConfig({}).workerMaxCachedWorkflows, 500);
    assert.equal(loadConfig({ HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS: '2000' }).workerMaxCachedWorkflows, 2000);
    assert.throws(
      () => loadConfig({ HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS: '1' }),
      /HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS: must be at least 2 workflows/,
    );
  });

  it('names every bad variable', () => {
    assert.throws(
      () => loadConfig({ HINDSIGHT_WEB_PORT: 'eighty', TEMPORAL_ADDRESS: 'nohost', DATABASE_URL: 'mysql://x' }),
      (error: Error) => {
        assert.match(error.message, /HINDSIGHT_WEB_PORT: /);
        assert.match(error.message, /TEMPORAL_ADDRESS: must be host:port/);
        assert.match(error.message, /DATABASE_URL: must be a postgres:\/\/ URL/);
        return true;
      },
    );
  });
});

describe('config file and Temporal TLS', () => {
  const file = (text: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hindsight-config-'));
    const name = path.join(dir, 'hindsight.env');
    writeFileSync(name, text);
    return name;
  };

  it('reads NAME=value lines, and the environment wins over the file', () => {
    const configFile = file(
      '# production\nTEMPORAL_ADDRESS=temporal.internal:7233\nHINDSIGHT_TASK_QUEUE="backups"\n\nHINDSIGHT_WEB_PORT=8080\n',
    );
    const config = loadConfig({ HINDSIGHT_CONFIG_FILE: configFile, HINDSIGHT_WEB_PORT: '9090' });
    assert.equal(config.temporalAddress, 'temporal.internal:7233');
    assert.equal(config.taskQueue, 'backups');
    assert.equal(config.webPort, 9090);
  });

  it('names the file, the line and the setting it does not know', () => {
    const configFile = file('TEMPORAL_ADDRESS=a:1\nTEMPORAL_ADRESS=b:2\n');
    assert.throws(
      () => loadConfig({ HINDSIGHT_CONFIG_FILE: configFile }),
      new RegExp(`${configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: unknown setting TEMPORAL_ADRESS`),
    );
    assert.throws(
      () => loadConfig({ HINDSIGHT_CONFIG_FILE: '/nonexistent/hindsight.env' }),
      /HINDSIGHT_CONFIG_FILE: cannot read \/nonexistent\/hindsight.env \(ENOENT\)/,
    );
  });

  it('turns TLS on from its files and refuses half of a client certificate', () => {
    assert.equal(loadConfig({}).temporalTls, undefined);
    assert.deepEqual(
      loadConfig({ TEMPORAL_TLS_CA_FILE: '/ca.pem', TEMPORAL_TLS_SERVER_NAME: 't.internal' }).temporalTls,
      { caFile: '/ca.pem', certFile: undefined, keyFile: undefined, serverName: 't.internal' },
    );
    assert.throws(
      () => loadConfig({ TEMPORAL_TLS_CERT_FILE: '/client.pem' }),
      /TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together/,
    );
    assert.throws(() => loadConfig({ TEMPORAL_TLS: 'yes' }), /TEMPORAL_TLS: /);
  });
});

describe('workflow inputs', () => {
  it('accepts a minimal backup input and fills the trigger', () => {
    assert.deepEqual(backupDatabaseInput.parse({ database: 'demo' }), { database: 'demo', trigger: 'schedule' });
  });

  it('names the bad fields of a backup input', () => {
    const message = inputError(backupDatabaseInput, 'backupDatabase', {
      database: 'Demo DB',
      backupId: 'yesterday',
      extra: 1,
    });
    assert.match(message, /^invalid backupDatabase input: /);
    assert.match(message, /database: database must be a registered name/);
    assert.match(message, /backupId: backupId must look like 20261123T103000Z-3f9a1c/);
    assert.match(message, /input: Unrecognized key: "extra"|extra/);
  });

  it('requires the database', () => {
    assert.match(inputError(backupDatabaseInput, 'backupDatabase', {}), /database: database is required/);
  });

  it('refuses a restore target URL that carries a password', () => {
    const message = inputError(restoreBackupInput, 'restoreBackup', {
      database: 'demo',
      to: { url: 'postgres://u:secret@db:5432/x' },
    });
    assert.match(message, /to\.url must not contain a password/);
    assert.ok(!message.includes('secret@'), 'the error must not repeat the secret');
  });

  it('refuses a restore without a target', () => {
    assert.match(inputError(restoreBackupInput, 'restoreBackup', { database: 'demo' }), /to: /);
  });

  it('accepts both kinds of restore target', () => {
    assert.ok(restoreBackupInput.safeParse({ database: 'demo', to: { database: 'demo_copy' } }).success);
    assert.ok(
      restoreBackupInput.safeParse({
        database: 'demo',
        to: { url: 'postgres://u@db:5432/x' },
        backupId: '20261123T103000Z-3f9a1c',
      }).success,
    );
  });
});

describe('database registration input', () => {
  it('names a bad schedule and timezone', () => {
    const registration = { name: 'demo', url: 'postgres://u@h/db' };
    const parsed = addDatabaseInput.safeParse({ ...registration, schedule: 'every hour', timezone: 'Mars/Olympus' });
    assert.equal(parsed.success, false);
    const fields = parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.match(fields, /^schedule: 'every hour' has 2 fields: use five fields/m);
    assert.match(fields, /^timezone: must be an IANA name such as UTC/m);
  });

  it('parses connection URLs, decoding user and password', () => {
    const target = parsePgUrl('postgresql://back%40up:p%3Ass@db.internal:6543/app?sslmode=require');
    assert.deepEqual(target, {
      host: 'db.internal',
      port: 6543,
      database: 'app',
      user: 'back@up',
      password: 'p:ss',
      sslmode: 'require',
    });
    assert.throws(() => parsePgUrl('mysql://x'), /must start with postgres:\/\//);
    assert.throws(() => parsePgUrl('postgres://h/db?sslmode=maybe'), /sslmode "maybe" is not one of/);
  });
});
