/**
 * Public-key mode where the private key is: an agent started with the identity in
 * HINDSIGHT_IDENTITY_FILES verifies the backups the main worker (which holds only the public key)
 * cannot read, and restores to a point in time on its host; `hindsight restore --identity` restores
 * a backup in the CLI's own process, table for table, and refuses an identity for another recipient.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { generateIdentity } from '../../lib/crypto/wrap/x25519-keys.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import type { PitrOutcome, WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import { tableHashes, type TableHashes } from '../support/guide-platform.ts';
import { startPlatform, createDatabase, type Platform } from '../support/platform.ts';
import {
  restoredRows,
  startPitrSource,
  stopPitrPlatform,
  takeBaseBackup,
  waitUntilArchived,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');
const DATABASE = 'vault';
const AGENT = 'keyholder';

describe('public-key mode: verification, restores and PITR where the private key is', () => {
  let platform: Platform;
  let source: PitrSource;
  let agent: WorkerProcess | undefined;
  let backupId: string;
  let atBackup: TableHashes;
  let identityFile: string;
  let otherIdentityFile: string;
  const restoredDirs: string[] = [];
  const identity = generateIdentity();
  const other = generateIdentity();
  const hindsight = (args: string[]) =>
    run(process.execPath, [cli, ...args], { env: { ...process.env, ...platform.configEnv } });
  const refusalOf = (args: string[]) =>
    hindsight(args).then(
      () => '',
      (error: { stderr: string }) => error.stderr,
    );

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, DATABASE);
    await source.query(
      'create table accounts (id int primary key, owner text); insert into accounts select g, md5(g::text) from generate_series(1, 2000) g',
    );
    identityFile = path.join(platform.dir, 'vault.identity');
    otherIdentityFile = path.join(platform.dir, 'other.identity');
    await writeFile(identityFile, identity.fileText, { mode: 0o600 });
    await writeFile(otherIdentityFile, other.fileText, { mode: 0o600 });
    await platform.startWorker();
    // The agent alone holds the private key; the main worker's configuration has no identity files.
    agent = await startWorkerProcess({ ...platform.configEnv, HINDSIGHT_IDENTITY_FILES: identityFile }, 120_000, [
      '--agent',
      AGENT,
    ]);
    await platform.ops.addDatabase({
      name: DATABASE,
      url: targetUrl(source.target),
      encryption: { mode: 'public-key', recipient: identity.recipient },
    });
    await platform.runtime.catalog.wal.updateSettings(DATABASE, { enabled: true, partialIntervalMs: 500 });
    const args: WalArchiverInput = { database: DATABASE };
    await platform.client.workflow.start('walArchiver', {
      taskQueue: platform.config.taskQueue,
      workflowId: `wal/${DATABASE}`,
      args: [args],
    });
    await takeBaseBackup(platform, DATABASE, 'first');
    atBackup = await tableHashes(source.target);
    backupId = (await (await platform.ops.startBackup(DATABASE)).result()).backupId;
  });

  after(async () => {
    await agent?.stop();
    if (platform) await stopPitrPlatform({ platform, source, database: DATABASE, restoredDirs });
  });

  it('the agent holding the identity verifies the backup: every content checksum equal', async () => {
    assert.deepEqual(await platform.runtime.catalog.agentRecipients.holding(identity.recipient), [AGENT]);
    const verification = await waitFor(
      'the verification after the backup',
      async () =>
        (await platform.ops.listVerifications(DATABASE)).find((v) => v.status !== 'pending' && v.status !== 'running'),
      240_000,
    );
    assert.equal(verification.status, 'successful', verification.reason ?? '');
    const report = (await platform.runtime.catalog.verifications.get(verification.id)).report!;
    const accounts = report.comparisons.find((c) => c.table === 'accounts');
    assert.ok(accounts?.checksum?.expected, 'the manifest has a content checksum for accounts');
    for (const c of report.comparisons) assert.equal(c.checksum?.restored, c.checksum?.expected, `${c.table}`);
    // The agent logs the end after the catalog records it, and its output is read as it comes: wait for the line.
    await waitFor(
      'the agent running it (its "verification finished" log line)',
      async () =>
        agent!.logs.some((l) => l.msg === 'verification finished' && l.verificationId === verification.id) || undefined,
      30_000,
    );
  });

  it('without an agent holding the key, the main worker skips the verification, saying why', async () => {
    await platform.runtime.catalog.agentRecipients.advertise(AGENT, []);
    try {
      const requested = await platform.ops.requestVerification(DATABASE, { backupId });
      const v = await requested.finished(120_000);
      assert.equal(v.status, 'skipped');
      assert.match(v.reason ?? '', new RegExp(`no agent holds the private key for recipient ${identity.recipient}`));
    } finally {
      await platform.runtime.catalog.agentRecipients.advertise(AGENT, [identity.recipient]);
    }
  });

  it('restore --identity restores the backup in the CLI, table for table', async () => {
    const { stdout } = await hindsight([
      'restore',
      DATABASE,
      '--identity',
      identityFile,
      '--backup',
      backupId,
      '--to-database',
      'vault_cli',
    ]);
    assert.match(
      stdout,
      new RegExp(`^restored backup ${backupId} from storage \\S+ into .*vault_cli with the identity`),
    );
    const restored = { ...source.target, database: 'vault_cli' };
    assert.deepEqual(await tableHashes(restored), atBackup);
    const audit = await platform.runtime.catalog.pool.query<{ text: string }>(
      'select row_to_json(a)::text as text from audit_log a',
    );
    const secret = identity.fileText.split('\n').find((l) => l.startsWith('hssec1'))!;
    assert.ok(
      audit.rows.some((r) => r.text.includes('restore.start')),
      'the restore is audited',
    );
    assert.ok(!audit.rows.some((r) => r.text.includes(secret)), 'the private key is not in the audit log');
  });

  it('restore --identity refuses an identity for another recipient, and a missing file, naming them', async () => {
    const target = await createDatabase(source.cluster, 'vault_wrong');
    const wrong = await refusalOf(['restore', DATABASE, '--identity', otherIdentityFile, '--to', targetUrl(target)]);
    assert.match(
      wrong,
      new RegExp(
        `backup ${backupId} is encrypted for recipient ${identity.recipient}; the identity ${otherIdentityFile} holds ${other.recipient}: give the identity file of recipient ${identity.recipient}`,
      ),
    );
    assert.deepEqual(await tableHashes(target), {}, 'nothing reached the target');
    const missing = path.join(platform.dir, 'nowhere.identity');
    assert.match(
      await refusalOf(['restore', DATABASE, '--identity', missing, '--to-database', 'vault_missing']),
      new RegExp(`--identity file ${missing} does not exist: give the identity file hindsight key generate wrote`),
    );
  });

  it('restores to a point in time on the agent: the row before the time is there, the row after it is not', async () => {
    const [before] = await source.query<{ id: number }>(
      "insert into events (at, note) values (clock_timestamp(), 'before') returning id",
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [{ at } = { at: '' }] = await source.query<{ at: string }>(
      `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [later] = await source.query<{ id: number }>(
      "insert into events (at, note) values (clock_timestamp(), 'after') returning id",
    );
    await waitUntilArchived(platform, source, 60_000);
    const dir = path.join(platform.dir, 'restored-pitr');
    await mkdir(dir);
    restoredDirs.push(dir);
    const { stdout } = await hindsight([
      'restore',
      DATABASE,
      '--time',
      at,
      '--to',
      dir,
      '--agent',
      AGENT,
      '--wait',
      '--json',
    ]);
    const outcome = JSON.parse(stdout) as PitrOutcome;
    const ids = (await restoredRows(source, outcome.port!)).map((r) => r.id);
    assert.ok(ids.includes(before!.id), `row ${before!.id}, committed before ${at}, is restored`);
    assert.ok(!ids.includes(later!.id), `row ${later!.id}, committed after ${at}, is not`);
  });
});
