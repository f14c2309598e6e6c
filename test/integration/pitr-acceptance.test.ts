import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { parseLsn } from '../../lib/wal/lsn.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { temporalCliPath } from '../../temporal/dev-server.ts';
import {
  type PitrOutcome,
  abortPitrSignal,
  pitrProgressQuery,
  pitrRestoreInput,
} from '../../temporal/contracts/pitr.ts';
import { startWebServer } from '../../web/server.ts';
import { freePort } from '../support/ports.ts';
import type { Platform } from '../support/platform.ts';
import {
  restore,
  restoredRows,
  rfc3339Plus2,
  startPitrWithRows,
  stopPitrPlatform,
  waitUntilArchived,
  type PitrSource,
  type Row,
} from '../support/pitr-fixture.ts';

/**
 * The published acceptance gate of a PITR tool: base backup plus WAL streaming while a writer
 * commits timestamped rows several times a second; pick a second T between two rows; restore to T
 * into a fresh directory: the row just before T is there, the one just after is not, and the count
 * equals the rows written up to T. Then restore to `latest`: every committed row is there.
 */
const run = promisify(execFile);

describe('point-in-time restore: the acceptance gate', () => {
  let platform: Platform;
  let source: PitrSource;
  let rows: Row[] = [];
  const started: string[] = [];

  before(async () => {
    ({ platform, source, rows } = await startPitrWithRows('shop', { forMs: 15_000, everyMs: 120 }));
  });

  after(() => stopPitrPlatform({ platform, source, database: 'shop', restoredDirs: started }));

  it('restores to a second T between two rows: the row before is present, the row after absent, the count exact', async () => {
    assert.ok(rows.length >= 50, `the writer committed ${rows.length} rows`);
    const k = Math.floor(rows.length * 0.6);
    const before = rows[k - 1]!;
    const afterRow = rows[k]!;
    const t = new Date(before.at.getTime() + Math.floor((afterRow.at.getTime() - before.at.getTime()) / 2));
    assert.ok(t > before.at && t < afterRow.at);
    const dir = path.join(platform.dir, 'restored-at-t');
    const outcome: PitrOutcome = await restore(
      platform,
      { database: 'shop', target: { time: rfc3339Plus2(t) }, to: { directory: dir } },
      'at-t',
    );
    started.push(dir);
    assert.equal(outcome.timeline, 1);
    assert.equal(outcome.dataDirectory, dir);
    assert.ok(outcome.port);
    assert.ok(outcome.segmentsFetched > 0, 'WAL came through restore_command');
    const restored = await restoredRows(source, outcome.port!);
    const ids = new Set(restored.map((r) => r.id));
    assert.ok(
      ids.has(before.id),
      `row ${before.id} written at ${before.at.toISOString()}, just before T ${t.toISOString()}, is present`,
    );
    assert.ok(
      !ids.has(afterRow.id),
      `row ${afterRow.id} written at ${afterRow.at.toISOString()}, just after T, is absent`,
    );
    const expected = rows.filter((r) => r.at <= t).length;
    assert.equal(restored.length, expected, 'count equals the rows written up to T');
    assert.deepEqual(
      restored.map((r) => r.id),
      rows.slice(0, expected).map((r) => r.id),
    );
    assert.ok(
      outcome.lastTransactionTime && new Date(outcome.lastTransactionTime) <= t,
      `last replayed commit ${outcome.lastTransactionTime} is not after T`,
    );
    assert.ok(outcome.lastTransactionTime && new Date(outcome.lastTransactionTime) >= before.at);
    assert.equal(outcome.newTimeline, 2, 'the promoted copy writes on a new timeline');
    const progress = await platform.client.workflow.getHandle('restore/shop/at-t').query(pitrProgressQuery);
    assert.deepEqual(
      [progress.stage, progress.baseBackupId, progress.replayLsn],
      ['promoted', outcome.baseBackupId, outcome.reachedLsn],
    );
    assert.match(progress.window ?? '', /^timeline 1: /);
    const conf = await readFile(path.join(dir, 'postgresql.conf'), 'utf8');
    assert.match(conf, /restore_command = '.*hindsight-wal-fetch\.mjs.* %f %p'/);
    assert.match(conf, /recovery_target_action = 'promote'/);
  });

  it('restores to latest, started from the temporal CLI through the codec endpoint: every committed row is there', async () => {
    const dir = path.join(platform.dir, 'restored-latest');
    // docs/pitr.md's line: the CLI encrypts its input through the console's codec endpoint (plain JSON is refused).
    const documented =
      /--type pitrRestore [^\n]*\\\n\s*--input '([^']+)'[^\n]*\\\n\s*--codec-endpoint \S+ --codec-auth /.exec(
        await readFile('docs/pitr.md', 'utf8'),
      );
    assert.ok(documented, 'docs/pitr.md shows a pitrRestore start through the codec endpoint');
    assert.ok(
      pitrRestoreInput.safeParse(JSON.parse(documented[1]!)).success,
      `the documented input is one the workflow accepts: ${documented[1]}`,
    );
    const token = randomBytes(16).toString('hex');
    const server = await startWebServer({
      services: createConsoleServices(platform.services),
      codec: {
        codec: new EncryptionCodec(platform.runtime.key, [], { plaintext: 'pass' }),
        token,
        corsOrigin: 'http://127.0.0.1:8233',
      },
      host: '127.0.0.1',
      port: await freePort(),
      log: () => undefined,
    });
    try {
      await run(await temporalCliPath(), [
        'workflow',
        'start',
        '--address',
        platform.configEnv.TEMPORAL_ADDRESS!,
        '--task-queue',
        platform.config.taskQueue,
        '--type',
        'pitrRestore',
        '--workflow-id',
        'restore/shop/latest-from-cli',
        '--input',
        JSON.stringify({ database: 'shop', target: 'latest', to: { directory: dir } }),
        '--codec-endpoint',
        `${server.url}/codec`,
        '--codec-auth',
        `Bearer ${token}`,
      ]);
    } finally {
      await server.close();
    }
    const outcome = (await platform.client.workflow.getHandle('restore/shop/latest-from-cli').result()) as PitrOutcome;
    started.push(dir);
    const restored = await restoredRows(source, outcome.port!);
    const all = await source.query<{ id: number }>('select id from events order by id');
    assert.equal(restored.length, rows.length);
    assert.deepEqual(
      restored.map((r) => r.id),
      all.map((r) => r.id),
    );
  });

  it("hindsight restore --immediate --to-sandbox promotes at the base backup's consistent point and removes the sandbox", async () => {
    const env = { ...process.env, ...platform.configEnv };
    const { stdout } = await run(
      process.execPath,
      [path.resolve('bin/hindsight.mjs'), 'restore', 'shop', '--immediate', '--to-sandbox', '--wait', '--json'],
      { env },
    );
    const outcome = JSON.parse(stdout) as PitrOutcome & { workflowId: string };
    assert.match(outcome.workflowId, /^restore\/shop\/\d{4}-\d\d-\d\dT/);
    assert.equal(outcome.kept, false);
    assert.equal(outcome.dataDirectory, null);
    const [backup] = await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' });
    assert.equal(outcome.baseBackupId, backup!.id);
    assert.ok(
      parseLsn(outcome.reachedLsn) >= backup!.stopLsn!,
      `reached ${outcome.reachedLsn}, at or after the backup's stop point`,
    );
    assert.ok(parseLsn(outcome.reachedLsn) < backup!.stopLsn! + 16n * 1024n * 1024n, 'and not replayed beyond it');
    assert.deepEqual(
      (await readdir(platform.config.sandboxRoot)).filter((d) => d.startsWith('pitr-')),
      [],
      'the sandbox is gone',
    );
  });

  it('restores to a named restore point and to a transaction id', async () => {
    const insert = async (note: string) =>
      (
        await source.query<{ id: number; xid: string }>(
          'insert into events (at, note) values (clock_timestamp(), $1) returning id, txid_current()::text as xid',
          [note],
        )
      )[0]!;
    const beforePoint = await insert('before the restore point');
    await source.query("select pg_create_restore_point('before_cleanup')");
    const afterPoint = await insert('after the restore point');
    const target = await insert('the target transaction');
    const afterTarget = await insert('after the target transaction');
    await waitUntilArchived(platform, source);

    const byName = path.join(platform.dir, 'restored-name');
    const named = await restore(
      platform,
      { database: 'shop', target: { name: 'before_cleanup' }, to: { directory: byName } },
      'by-name',
    );
    started.push(byName);
    const namedIds = new Set((await restoredRows(source, named.port!)).map((r) => r.id));
    assert.ok(namedIds.has(beforePoint.id) && !namedIds.has(afterPoint.id), 'stops at the restore point');

    const byXid = path.join(platform.dir, 'restored-xid');
    const xid = await restore(
      platform,
      { database: 'shop', target: { xid: target.xid }, to: { directory: byXid } },
      'by-xid',
    );
    started.push(byXid);
    const xidIds = new Set((await restoredRows(source, xid.port!)).map((r) => r.id));
    assert.ok(xidIds.has(afterPoint.id) && xidIds.has(target.id), 'the target transaction is included');
    assert.ok(!xidIds.has(afterTarget.id), 'the next one is not');
  });

  it('a time after the last commit of an idle database restores everything up to it (the server confirms the archive is complete)', async () => {
    await waitUntilArchived(platform, source);
    const [last] = await source.query<{ at: Date }>('select max(at) as at from events');
    await new Promise((r) => setTimeout(r, 3000));
    const t = new Date(Date.now() - 1000);
    assert.ok(t.getTime() - last!.at.getTime() > 1500, 'T lies well after the last commit');
    const dir = path.join(platform.dir, 'restored-idle');
    const outcome = await restore(
      platform,
      { database: 'shop', target: { time: rfc3339Plus2(t) }, to: { directory: dir } },
      'idle',
    );
    started.push(dir);
    assert.match(
      outcome.note ?? '',
      /^no transaction committed between the last one in the archive and .*: recovery replayed everything archived \(to [0-9A-F]+\/[0-9A-F]+\) and promoted there$/,
    );
    const restored = await restoredRows(source, outcome.port!);
    const all = await source.query<{ id: number }>('select id from events order by id');
    assert.deepEqual(
      restored.map((r) => r.id),
      all.map((r) => r.id),
      'every row committed before T',
    );
  });

  it('an abort signal sent at once ends the restore as aborted, with nothing written', async () => {
    const dir = path.join(platform.dir, 'aborted');
    const handle = await platform.client.workflow.start('pitrRestore', {
      taskQueue: platform.config.taskQueue,
      workflowId: 'restore/shop/aborted',
      args: [{ database: 'shop', target: 'latest', to: { directory: dir } }],
    });
    await handle.signal(abortPitrSignal, 'changed my mind');
    await assert.rejects(handle.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.equal((error.cause as { name?: string } | undefined)?.name, 'CancelledFailure');
      assert.equal((error.cause as { message?: string } | undefined)?.message, 'aborted: changed my mind');
      return true;
    });
    const progress = await handle.query(pitrProgressQuery);
    assert.equal(progress.stage, 'aborted');
    assert.equal(progress.error, 'aborted: changed my mind');
    assert.deepEqual(await readdir(dir).catch(() => []), [], 'the directory is empty (or was never made)');
  });

  it('refuses at once a time before the first base backup, naming the windows in UTC', async () => {
    const dir = path.join(platform.dir, 'never');
    const started = Date.now();
    await assert.rejects(
      restore(
        platform,
        { database: 'shop', target: { time: '2020-01-01T00:00:00+01:00' }, to: { directory: dir } },
        'too-early',
      ),
      (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError);
        const message = String((error.cause as { message?: string } | undefined)?.message ?? error.message);
        assert.match(
          message,
          /time 2020-01-01T00:00:00\+01:00 \(2019-12-31T23:00:00\.000Z\) is outside every recoverable window of database "shop"/,
        );
        assert.match(
          message,
          /timeline 1: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\w+\/\w+\) to \d{4}-\d\d-\d\dT[\d:.]+Z/,
        );
        return true;
      },
    );
    assert.ok(Date.now() - started < 15_000, 'failed without retrying');
  });

  it('refuses a time without an explicit offset and a directory that is not empty', async () => {
    await assert.rejects(
      restore(
        platform,
        { database: 'shop', target: { time: '2026-11-23T10:00:00' }, to: { directory: path.join(platform.dir, 'x') } },
        'no-offset',
      ),
      (error: unknown) =>
        /target\.time must be RFC 3339 with an explicit offset/.test(
          String((error as { cause?: { message?: string } }).cause?.message),
        ),
    );
    await assert.rejects(
      restore(platform, { database: 'shop', target: 'latest', to: { directory: platform.dir } }, 'not-empty'),
      (error: unknown) =>
        /is not empty .*a restore never writes over existing files/.test(
          String((error as { cause?: { message?: string } }).cause?.message),
        ),
    );
  });
});
