import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
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
import { restore, restoredRows, waitUntilArchived } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';

/**
 * The published acceptance gate of a PITR tool: base backup plus WAL streaming while a writer
 * commits timestamped rows several times a second; pick a second T between two rows; restore to T
 * into a fresh directory: the row just before T is there, the one just after is not, and the count
 * equals the rows written up to T. Then restore to `latest`: every committed row is there.
 */
const run = promisify(execFile);

describe('point-in-time restore: the acceptance gate', () => {
  const pitr = usePitrScenario('shop', { writes: { forMs: 15_000, everyMs: 120 } });

  it('restores to a second T between two rows: the row before is present, the row after absent, the count exact', async () => {
    const { platform, rows } = pitr;
    assert.ok(rows.length >= 50, `the writer committed ${rows.length} rows`);
    const { dir, outcome, t, before } = await pitr.restoreBetweenRows(
      'restored-at-t',
      'at-t',
      Math.floor(rows.length * 0.6),
    );
    assert.equal(outcome.timeline, 1);
    assert.equal(outcome.dataDirectory, dir);
    assert.ok(outcome.segmentsFetched > 0, 'WAL came through restore_command');
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
    assert.match(
      conf,
      /restore_command = 'c=\$\(''\/usr\/bin\/curl'' .*--unix-socket.* %p .*http:\/\/hindsight\/wal\/%f\)/,
    );
    assert.match(conf, /recovery_target_action = 'promote'/);
  });

  it('restores to latest, started from the temporal CLI through the codec endpoint: every committed row is there', async () => {
    const { platform, source } = pitr;
    const dir = pitr.restoredDir('restored-latest');
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
    const restored = await restoredRows(source, outcome.port!);
    const all = await source.query<{ id: number }>('select id from events order by id');
    assert.equal(restored.length, pitr.rows.length);
    assert.deepEqual(
      restored.map((r) => r.id),
      all.map((r) => r.id),
    );
  });

  it("hindsight restore --immediate --to-sandbox promotes at the base backup's consistent point and removes the sandbox", async () => {
    const { platform } = pitr;
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
    const { platform, source } = pitr;
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

    const { outcome: named } = await pitr.restoreInto('restored-name', { name: 'before_cleanup' }, 'by-name');
    const namedIds = new Set((await restoredRows(source, named.port!)).map((r) => r.id));
    assert.ok(namedIds.has(beforePoint.id) && !namedIds.has(afterPoint.id), 'stops at the restore point');

    const { outcome: xid } = await pitr.restoreInto('restored-xid', { xid: target.xid }, 'by-xid');
    const xidIds = new Set((await restoredRows(source, xid.port!)).map((r) => r.id));
    assert.ok(xidIds.has(afterPoint.id) && xidIds.has(target.id), 'the target transaction is included');
    assert.ok(!xidIds.has(afterTarget.id), 'the next one is not');
  });

  it('a time after the last commit of an idle database restores everything up to it (the server confirms the archive is complete)', async () => {
    const { platform, source } = pitr;
    await waitUntilArchived(platform, source);
    const [last] = await source.query<{ at: Date }>('select max(at) as at from events');
    await new Promise((r) => setTimeout(r, 3000));
    const t = new Date(Date.now() - 1000);
    assert.ok(t.getTime() - last!.at.getTime() > 1500, 'T lies well after the last commit');
    const { outcome } = await pitr.restoreToTime('restored-idle', t, 'idle');
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
    const { platform } = pitr;
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
    const { platform } = pitr;
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
    const { platform } = pitr;
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
