import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { VerificationSummary } from '../../lib/verify/report.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { operatorActor } from '../../services/authz.ts';
import { lastVerificationQuery } from '../../temporal/contracts/verify.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

async function finished(platform: Platform, id: string): Promise<VerificationSummary> {
  return waitFor(
    `verification ${id} to finish`,
    async () => {
      const v = await platform.runtime.catalog.verifications.get(id);
      return ['pending', 'running'].includes(v.status) ? undefined : v;
    },
    120_000,
  );
}

describe('restore verification in a throwaway server', () => {
  let platform: Platform;
  let source: PgTarget;
  const backups: string[] = [];
  const sandboxRoot = () => platform.config.sandboxRoot;
  const manifestFile = (id: string) => path.join(platform.backupsDir, 'ledger', `${id}.json`);
  const objectFile = (id: string) => path.join(platform.backupsDir, 'ledger', `${id}.dump.hsb`);

  before(async () => {
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'ledger');
    const client = await connect('ledger', source);
    await client.query(`create schema audit;
      create table entries (id int primary key, amount numeric(12,2), memo text);
      insert into entries select g, g * 1.25, md5(g::text) from generate_series(1, 20000) g;
      create table audit.log (id bigserial primary key, at timestamptz default now(), what jsonb);
      insert into audit.log (what) select jsonb_build_object('n', g) from generate_series(1, 3000) g;`);
    await client.end();
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source) });
  });

  after(async () => {
    await platform?.stop();
  });

  it('verifies every backup after it completes: exact counts per table, equal to the manifest', async () => {
    const outcome = await (await platform.ops.startBackup('ledger')).result();
    backups.push(outcome.backupId);
    const [request] = await waitFor(
      'the verification request',
      async () => {
        const list = await platform.ops.listVerifications('ledger');
        return list.length > 0 ? list : undefined;
      },
      30_000,
    );
    assert.equal(request!.trigger, 'backup');
    const v = await finished(platform, request!.id);
    assert.equal(v.status, 'successful', v.reason ?? '');
    const report = v.report!;
    assert.deepEqual(
      report.stages.map((s) => [s.stage, s.ok]),
      [
        ['checksum', true],
        ['sandbox', true],
        ['restore', true],
        ['count', true],
        ['compare', true],
        ['indexes', true],
        ['cleanup', true],
      ],
    );
    // amcheck as the restore role: both primary keys, every heap tuple found in them.
    assert.deepEqual(
      [report.indexes?.unavailable, report.indexes?.total, report.indexes?.checked, report.indexes?.corrupt],
      [null, 2, 2, []],
    );
    assert.ok((report.timeToUsableSeconds ?? 0) > 0, 'the time to a usable database is recorded');
    const manifest = JSON.parse(await readFile(manifestFile(outcome.backupId), 'utf8'));
    assert.deepEqual(
      report.comparisons.map((c) => [c.schema, c.table, c.expected, c.restored, c.ok]),
      (manifest.tables as Array<{ schema: string; table: string; rows: number }>)
        .map((t) => [t.schema, t.table, t.rows, t.rows, true])
        .sort((a, b) => `${a[0]}.${a[1]}`.localeCompare(`${b[0]}.${b[1]}`)),
    );
    assert.equal(report.expectedRows, 23_000);
    assert.equal(report.restoredRows, 23_000);
    assert.equal(report.tables, 2);
    assert.ok((report.schemas ?? 0) >= 2);
    assert.equal(report.restore?.exitCode, 0);
    // Loaded as a role without privileges, in a confined server; nothing of this plain database was left out.
    assert.equal(report.sandbox?.confinement, process.getuid?.() === 0 ? 'bwrap' : report.sandbox?.confinement);
    assert.deepEqual(
      {
        role: report.load?.role,
        skipped: report.load?.skipped,
        refused: report.load?.refused,
        failed: report.load?.failed,
      },
      { role: 'hindsight_restore', skipped: [], refused: [], failed: [] },
    );
    assert.ok((report.restoredSizeBytes ?? 0) > 0 && (report.sourceSizeBytes ?? 0) > 0);
    assert.deepEqual(
      await readdir(sandboxRoot()).then((names) => names.filter((n) => n.startsWith('sbx-'))),
      [],
      'the sandbox is gone',
    );
    const state = await platform.client.workflow.getHandle('verify/ledger').query(lastVerificationQuery);
    assert.equal(state.last?.status, 'successful');
    // The console shows the report's verdict beside the backup.
    const overview = await createConsoleServices(platform.services).overview(operatorActor('test'));
    const shown = overview.backups.find((b) => b.id === outcome.backupId)?.verification;
    assert.deepEqual(
      { status: shown?.status, tables: shown?.tables, rows: shown?.rows, mismatches: shown?.mismatches },
      { status: 'successful', tables: 2, rows: 23_000, mismatches: 0 },
    );
  });

  it('fails at the checksum stage when one byte of the object is flipped, before any restore', async () => {
    await platform.runtime.catalog.updateDatabaseSettings('ledger', { verifyAfterBackup: false });
    const outcome = await (await platform.ops.startBackup('ledger')).result();
    backups.push(outcome.backupId);
    const file = objectFile(outcome.backupId);
    const original = await readFile(file);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 3)]! ^= 0x40;
    await writeFile(file, damaged);
    try {
      const v = await (await platform.ops.requestVerification('ledger', { backupId: outcome.backupId })).finished();
      assert.equal(v.status, 'failed');
      assert.match(v.reason ?? '', /^checksum: the object in storage "local" .* differs from the manifest/);
      assert.deepEqual(
        v.report!.stages.map((s) => [s.stage, s.ok]),
        [['checksum', false]],
        'no sandbox was started for a damaged object',
      );
    } finally {
      await writeFile(file, original);
    }
  });

  it('names the table when the restored data does not match the manifest, and a table the dump lacks', async () => {
    const id = backups[1]!;
    const original = await readFile(manifestFile(id), 'utf8');
    const manifest = JSON.parse(original);
    const entries = manifest.tables.find((t: { table: string }) => t.table === 'entries');
    entries.rows += 1;
    // A table the source had but the dump skipped (e.g. one the backup role could not read).
    manifest.tables.push({ schema: 'public', table: 'payroll', rows: 12 });
    await writeFile(manifestFile(id), JSON.stringify(manifest));
    try {
      const v = await (await platform.ops.requestVerification('ledger', { backupId: id })).finished();
      assert.equal(v.status, 'failed');
      assert.match(v.reason ?? '', /row counts differ in 2 table\(s\)/);
      assert.match(v.reason ?? '', /public\.entries: expected 20001, restored 20000/);
      assert.match(v.reason ?? '', /public\.payroll: expected 12, restored absent/);
      assert.deepEqual(
        v.report!.comparisons.slice(0, 2).map((c) => c.ok),
        [false, false],
        'mismatches come first',
      );
      assert.equal(v.report!.mismatches, 2);
    } finally {
      await writeFile(manifestFile(id), original);
    }
  });

  it('verifies the newest backup when its own schedule fires', async () => {
    await platform.ops.setVerifySchedule('ledger', '@daily');
    const handle = platform.client.schedule.getHandle('verify/ledger');
    assert.equal(((await handle.describe()).action as { workflowType: string }).workflowType, 'scheduledVerification');
    const before = new Set((await platform.ops.listVerifications('ledger')).map((v) => v.id));
    await handle.trigger();
    const request = await waitFor(
      'the scheduled request',
      async () => (await platform.ops.listVerifications('ledger')).find((v) => !before.has(v.id)),
      30_000,
    );
    assert.equal(request.trigger, 'schedule');
    assert.equal(request.backupId, backups[1], 'the newest restorable backup');
    assert.equal((await finished(platform, request.id)).status, 'successful');
    await platform.ops.setVerifySchedule('ledger', null);
  });

  it('verifies the first and the last of three requests in quick succession; the middle one is superseded', async () => {
    const first = await platform.ops.requestVerification('ledger', { backupId: backups[0] });
    // Let the first one start before the others arrive.
    await waitFor(
      'the first verification to run',
      async () =>
        (await platform.runtime.catalog.verifications.get(first.verificationId)).status === 'running'
          ? true
          : undefined,
      30_000,
    );
    const second = await platform.ops.requestVerification('ledger', { backupId: backups[1] });
    const third = await platform.ops.requestVerification('ledger', { backupId: backups[0] });
    const results = await Promise.all([first.finished(), second.finished(), third.finished()]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['successful', 'superseded', 'successful'],
    );
    assert.match(results[1]!.reason ?? '', /superseded by the verification of backup/);
    assert.equal(results[1]!.report, null, 'a superseded request never ran');
  });
});
