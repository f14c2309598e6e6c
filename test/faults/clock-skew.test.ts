import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { backupScheduleId } from '../../temporal/contracts/backup.ts';
import { assertInAgreement, assertRestoresIdentical } from '../support/fault-checks.ts';
import { innermostMessage } from '../support/failures.ts';
import {
  enablePitr,
  restore,
  startPitrSource,
  stopArchiver,
  stopRestoredServer,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { createFilledDatabase, startPlatform, tableFingerprint, type Platform } from '../support/platform.ts';
import { libfaketimePath, startSkewedWorker, type SkewedWorker } from '../support/skewed-worker.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The worker's clock ten minutes ahead of the source's (and of the catalog's and Temporal's): the
 * worker runs as its own process under libfaketime. Schedules keep firing once a minute, retention
 * deletes exactly what its rules say (a backup never goes for looking older than it is), and a
 * point-in-time restore to a time read from the source's clock restores exactly the rows committed
 * before it, from the newest base backup that started before it on that clock.
 */

const SKEW_SECONDS = 600;
const library = libfaketimePath();
const skip = library
  ? false
  : 'libfaketime is not installed (scripts/setup.sh installs it; apt-get install libfaketime)';
if (skip) process.stdout.write(`# clock-skew fault case skipped: ${skip}\n`);

const SMALL = `create table ticks (id int primary key, note text not null);
  insert into ticks select g, md5(g::text) from generate_series(1, 2000) g;`;

/** A policy and how old (catalog time) each of three backups is made to be, oldest first; the last is new. */
const retentionCases = [
  { database: 'by_count', policy: { kind: 'count', keepLast: 1 }, ages: ['2 hours', '55 minutes'] },
  { database: 'by_gfs', policy: { kind: 'gfs', hourly: 1 }, ages: ['2 hours', '55 minutes'] },
  { database: 'by_days', policy: { kind: 'time', keepDays: 1 }, ages: ['1 day 5 minutes', '23 hours 55 minutes'] },
] as const;

describe('clock skew: the worker ten minutes ahead of the source', { skip }, () => {
  let platform: Platform;
  let source: PitrSource;
  let worker: SkewedWorker | undefined;
  let ticks: PgTarget;
  let watchedFrom: Date;
  const restoredDirs: string[] = [];

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, 'events');
    worker = await startSkewedWorker(platform, library!, SKEW_SECONDS);
    ticks = await createFilledDatabase(source.cluster, 'ticks', SMALL);
    // Scheduled first: the minutes go by while the other cases run.
    watchedFrom = new Date();
    await platform.ops.addDatabase({
      name: 'ticks',
      url: targetUrl(ticks),
      schedule: '* * * * *',
      verifyAfterBackup: false,
    });
  });

  after(async () => {
    for (const dir of restoredDirs) await stopRestoredServer(dir);
    if (platform) await stopArchiver(platform, source?.database ?? 'events');
    await worker?.stop();
    await source?.cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  it("the worker's clock is ten minutes ahead of this process's, the source's and the catalog's", async () => {
    const ahead = worker!.aheadMs / 1000;
    assert.ok(ahead > SKEW_SECONDS - 60 && ahead <= SKEW_SECONDS, `the worker is ${ahead} s ahead`);
  });

  for (const { database, policy, ages } of retentionCases) {
    it(`retention (${policy.kind}) deletes exactly what its rule says, not a backup that only looks old`, async () => {
      const target = await createFilledDatabase(source.cluster, database, SMALL);
      await platform.ops.addDatabase({ name: database, url: targetUrl(target), verifyAfterBackup: false });
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const outcome = await (await platform.ops.startBackup(database)).result();
        assert.equal(outcome.status, 'complete');
        ids.push(outcome.backupId);
      }
      const [oldest, nearlyOld, newest] = ids as [string, string, string];
      await dateBack(platform, oldest, ages[0]);
      await dateBack(platform, nearlyOld, ages[1]);
      await platform.ops.setRetentionPolicy(database, policy);

      // The dry run the console shows (on this host's clock) and the run the worker makes agree.
      const plan = await platform.ops.retentionPlan(database);
      assert.deepEqual(
        plan.plan.delete.map((d) => d.id),
        [oldest],
      );
      const outcome = await (await platform.ops.startRetention(database)).result();
      assert.deepEqual(outcome.deleted, [oldest], `retention deletes only ${oldest}: ${outcome.summary}`);
      assert.deepEqual(
        (await platform.ops.listBackups(database)).map((b) => [b.id, b.status]),
        [
          [newest, 'complete'],
          [nearlyOld, 'complete'],
          [oldest, 'deleted'],
        ],
      );
      assert.deepEqual(await storedBackupIds(platform, database), [nearlyOld, newest].sort());
    });
  }

  it("a PITR restore to a time read from the source's clock: the rows committed before it, from the newest base backup begun before it", async () => {
    await enablePitr(platform, source);
    const first = await takeBaseBackup(platform, 'events', 'first');
    const beforeT1 = await writeRows(source, 1500, 100, 'before t1');
    const t1 = await sourceClock(source);
    await writeRows(source, 1000, 100, 'after t1');
    const second = await takeBaseBackup(platform, 'events', 'second');
    const beforeT2 = await writeRows(source, 1500, 100, 'before t2');
    const t2 = await sourceClock(source);
    await writeRows(source, 1000, 100, 'after t2');
    await waitUntilArchived(platform, source);

    for (const [t, lastId, baseBackupId, name] of [
      [t1, beforeT1.at(-1)!.id, first.baseBackupId, 't1'],
      [t2, beforeT2.at(-1)!.id, second.baseBackupId, 't2'],
    ] as const) {
      const dir = path.join(platform.dir, `restored-${name}`);
      restoredDirs.push(dir);
      const input = { database: 'events', target: { time: t.toISOString() }, to: { directory: dir } };
      const outcome = await restore(platform, input, name);
      assert.equal(outcome.baseBackupId, baseBackupId, `the restore to ${name} starts from the base backup before it`);
      assert.deepEqual(
        await tableFingerprint(
          { ...source.target, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' },
          'events',
          'id',
        ),
        await tableFingerprint(source.target, `(select * from events where id <= ${lastId})`, 'id'),
        `the restore to ${name} holds exactly the rows committed before it`,
      );
    }
    // A time in the source's future (the worker's past) is refused at once, as it is without skew:
    // the archive's head ends at the moment the source, on its own clock, said it was all stored.
    const future = new Date((await sourceClock(source)).getTime() + (SKEW_SECONDS / 2) * 1000);
    const futureDir = path.join(platform.dir, 'restored-future');
    restoredDirs.push(futureDir);
    await assert.rejects(
      restore(
        platform,
        { database: 'events', target: { time: future.toISOString() }, to: { directory: futureDir } },
        'future',
      ),
      (error: unknown) => /is outside every recoverable window/.test(innermostMessage(error)),
    );
    // Dated on the source's clock: the second base backup began after t1 and was consistent before t2.
    const secondRecord = await platform.runtime.catalog.wal.getBaseBackup(second.baseBackupId);
    assert.ok(
      secondRecord.startTime > t1 && secondRecord.stopTime! < t2,
      'the second base backup lies between t1 and t2',
    );
  });

  it('a database scheduled every minute gets one backup each minute: none skipped, no burst, each restorable', async () => {
    const schedule = platform.client.schedule.getHandle(backupScheduleId('ticks'));
    const taken = await waitFor(
      'three scheduled backups finished',
      async () => {
        const { info } = await schedule.describe();
        const runs = info.recentActions.filter((a) => a.scheduledAt >= watchedFrom);
        if (runs.length < 3) return undefined;
        const backups = await scheduledBackups(platform, 'ticks');
        return backups.filter((b) => b.status !== 'running').length >= runs.length
          ? { info, runs, backups }
          : undefined;
      },
      6 * 60_000,
      2000,
    );
    const { info, runs, backups } = taken;
    assert.deepEqual([info.numActionsMissedCatchupWindow, info.numActionsSkippedOverlap], [0, 0]);
    const steps = runs.slice(1).map((r, i) => r.scheduledAt.getTime() - runs[i]!.scheduledAt.getTime());
    assert.deepEqual(
      steps,
      steps.map(() => 60_000),
      'one run a minute, on the minute',
    );
    // Each run has its backup, complete, and no run has two.
    assert.deepEqual(
      backups.filter((b) => runs.some((r) => r.action.workflow.workflowId === b.workflowId)).map((b) => b.status),
      runs.map(() => 'complete'),
    );
    assert.equal(new Set(backups.map((b) => b.workflowId)).size, backups.length, 'one backup per scheduled run');
    await assertRestoresIdentical(
      platform,
      { database: 'ticks', backupId: backups.at(-1)!.id, source: ticks },
      'ticks_restored',
      'ticks',
    );
    await assertInAgreement(platform);
  });
});

/** Moves a backup `interval` into the past, as if it had run then (on the catalog's clock). */
async function dateBack(platform: Platform, backupId: string, interval: string): Promise<void> {
  await platform.runtime.catalog.pool.query(
    `update backups set started_at = now() - $2::interval - interval '2 seconds', finished_at = now() - $2::interval
     where id = $1`,
    [backupId, interval],
  );
}

/** The backups whose objects the local storage holds for `database`, sorted. */
async function storedBackupIds(platform: Platform, database: string): Promise<string[]> {
  const names = await readdir(path.join(platform.backupsDir, database));
  return [...new Set(names.map((n) => n.slice(0, n.indexOf('.'))))].sort();
}

/** The source server's clock, between two commits: ms apart from both, so its ISO form falls between them too. */
async function sourceClock(source: PitrSource): Promise<Date> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  const [row] = await source.query<{ now: Date }>('select clock_timestamp() as now');
  await new Promise((resolve) => setTimeout(resolve, 20));
  return row!.now;
}

/** The scheduled backups of `database`, oldest first, with the run that took each. */
async function scheduledBackups(platform: Platform, database: string) {
  const { rows } = await platform.runtime.catalog.pool.query<{ id: string; status: string; workflowId: string }>(
    `select b.id, b.status, b.workflow_id as "workflowId" from backups b join databases d on d.id = b.database_id
     where d.name = $1 and b.trigger = 'schedule' order by b.started_at`,
    [database],
  );
  return rows;
}
