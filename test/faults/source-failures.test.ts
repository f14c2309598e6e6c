import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { connect, quoteIdent, targetUrl } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { assertRanOnce, innermostMessage } from '../support/failures.ts';
import { freePort } from '../support/ports.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

describe('a source that cannot be backed up fails fast, naming the database and the cause', () => {
  let platform: Platform;

  before(async () => {
    platform = await startPlatform();
    await platform.startWorker();
    const target = await createDatabase(platform.cluster, 'ledger');
    const admin = await connect('admin', platform.cluster.target('postgres'));
    await admin.query(`create role ledger_reader login password 'right-password'`);
    await admin.query(`grant connect on database ${quoteIdent('ledger')} to ledger_reader`);
    await admin.end();
    const ledger = await connect('ledger', target);
    await ledger.query('create table entries (id int primary key, amount numeric)');
    await ledger.query('insert into entries select g, g from generate_series(1, 100) g');
    await ledger.end();
  });

  after(async () => {
    await platform?.stop();
  });

  it('a wrong password: the run fails at once with the cause, and the backup is recorded failed', async () => {
    const url = targetUrl({ ...platform.cluster.target('ledger'), user: 'ledger_reader', password: 'wrong-password' });
    await platform.ops.addDatabase({ name: 'ledger-wrong-pw', url, skipCheck: true });
    const backup = await platform.ops.startBackup('ledger-wrong-pw');
    await assert.rejects(backup.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.match(
        innermostMessage(error),
        /database "ledger-wrong-pw": password authentication failed for user "ledger_reader" \(check the password saved for this database\)/,
      );
      return true;
    });
    await assertRanOnce(platform.client, backup.workflowId, 'a permanent error must not be retried');
    const [record] = await platform.runtime.catalog.listBackups('ledger-wrong-pw');
    assert.equal(record?.status, 'failed');
    assert.match(record?.error ?? '', /password authentication failed/);
  });

  it('a role without SELECT on a table: the run is refused at once and says which grant is missing', async () => {
    const url = targetUrl({ ...platform.cluster.target('ledger'), user: 'ledger_reader', password: 'right-password' });
    await platform.ops.addDatabase({ name: 'ledger-no-grant', url });
    const backup = await platform.ops.startBackup('ledger-no-grant');
    await assert.rejects(backup.result(), (error: unknown) => {
      assert.match(
        innermostMessage(error),
        /database "ledger-no-grant": .*permission denied for table entries.*grant the backup role SELECT/,
      );
      return true;
    });
    await assertRanOnce(platform.client, backup.workflowId, 'a missing grant is permanent: no retries');
    const files = await readdir(path.join(platform.backupsDir, 'ledger-no-grant')).catch(() => [] as string[]);
    assert.deepEqual(files, [], 'a refused dump leaves nothing in storage');
  });

  it('a server that is down: a few quick retries, then the run fails naming host and port', async () => {
    const port = await freePort();
    const url = `postgres://someone:pw@127.0.0.1:${port}/ghost`;
    await platform.ops.addDatabase({ name: 'ghost', url, skipCheck: true });
    const started = Date.now();
    const backup = await platform.ops.startBackup('ghost');
    await assert.rejects(backup.result(), (error: unknown) => {
      assert.match(
        innermostMessage(error),
        new RegExp(
          `database "ghost" is unreachable at 127.0.0.1:${port} \\(connection refused\\): check that PostgreSQL is running`,
        ),
      );
      return true;
    });
    assert.ok(Date.now() - started < 60_000, 'retries of an unreachable source are bounded');
  });

  it('a bad workflow input from any client is refused at once with the field named', async () => {
    const handle = await platform.client.workflow.start('backupDatabase', {
      taskQueue: platform.config.taskQueue,
      workflowId: 'backup/bad-input',
      args: [{ database: 'Not A Name!', trigger: 'sometimes' }],
    });
    await assert.rejects(handle.result(), (error: unknown) => {
      const message = innermostMessage(error);
      assert.match(message, /invalid backupDatabase input: /);
      assert.match(message, /database: database must be a registered name/);
      assert.match(message, /trigger: /);
      return true;
    });
    const restore = await platform.client.workflow.start('restoreBackup', {
      taskQueue: platform.config.taskQueue,
      workflowId: 'restore/bad-input',
      args: [{ database: 'ledger', to: { url: 'postgres://u:secret@h/db' } }],
    });
    await assert.rejects(restore.result(), (error: unknown) => {
      assert.match(innermostMessage(error), /invalid restoreBackup input: .*to\.url must not contain a password/);
      return true;
    });
  });

  it('the CLI refuses a database it cannot reach, with a one-line reason and exit code 1', async () => {
    const env = { ...process.env, ...platform.configEnv };
    const url = targetUrl({ ...platform.cluster.target('ledger'), user: 'ledger_reader', password: 'nope' });
    const result = await run(process.execPath, [cli, 'db', 'add', 'cli-wrong', '--url', url], { env }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(
      result.stderr,
      /^hindsight: database "cli-wrong": password authentication failed for user "ledger_reader"/,
    );
    assert.ok(!result.stderr.includes('nope'), 'the password must not be echoed');

    const usage = await run(process.execPath, [cli, 'restore', 'ledger'], { env }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /restore needs exactly one of --to <postgres-url> or --to-database <name>/);
  });
});
