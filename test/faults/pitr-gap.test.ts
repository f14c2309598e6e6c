import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WAL_FETCH_ENTRY } from '../../activities/pitr.ts';
import { createLogger } from '../../lib/logger.ts';
import { asServerUser, serverEnv } from '../../lib/pitr/os-user.ts';
import { startWalFetchServer } from '../../lib/pitr/wal-fetch-server.ts';
import { createWalSource } from '../../lib/pitr/wal-source.ts';
import { connect } from '../../lib/pg/connection.ts';
import { recoverableWindows } from '../../lib/pitr/window.ts';
import { formatLsn, parseLsn } from '../../lib/wal/lsn.ts';
import { systemActor } from '../../services/authz.ts';
import type { WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import {
  restore,
  restoredRows,
  rfc3339Plus2,
  stopArchiver,
  takeBaseBackup,
  waitUntilArchived,
  walPageMagic,
  writeRows,
  type Row,
} from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);

const failureMessage = (error: unknown): string =>
  String((error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message);

/**
 * A segment deleted from storage behind the catalog's back: the chain monitor finds it by looking
 * at storage, reports the gap with its LSN range, notifies once and starts a base backup by
 * itself; a time inside the gap cannot be restored, a time after the new base backup can. Then, on
 * the same servers: synchronous mode (a commit waits for the receiver, an acknowledged commit is
 * restored by a restore to the latest point), a gap made on purpose (a slot over its limit dropped,
 * --slot-over-limit drop), and the database removed with PITR on, which stops streaming and drops
 * the slot.
 */
let inGap: Row[] = [];
let deletedSegment = '';

describe('WAL chain: a segment deleted from storage', () => {
  const pitr = usePitrScenario('ledger', {
    chainMonitor: true,
    setUp: async ({ platform, source }) => {
      await takeBaseBackup(platform, 'ledger', 'first');
      await writeRows(source, 1500, 100, 'before');
      await source.query('select pg_switch_wal()');
      // These rows go to one segment, which is then deleted.
      const [current] = await source.query<{ name: string }>(
        'select pg_walfile_name(pg_current_wal_insert_lsn()) as name',
      );
      deletedSegment = current!.name;
      inGap = await writeRows(source, 4000, 100, 'in the gap');
      await source.query('select pg_switch_wal()');
      await writeRows(source, 1000, 100, 'after');
      await waitUntilArchived(platform, source);
      const segment = (await platform.runtime.catalog.wal.segmentsOf('ledger')).find((s) => s.name === deletedSegment);
      assert.ok(segment?.complete, `segment ${deletedSegment} is archived complete`);
      await rm(path.join(platform.backupsDir, segment.objectKey));
    },
  });

  it('the monitor reports the gap with its LSN range, notifies once and starts a base backup', () =>
    monitorReportsTheGap(pitr));

  it('restore_command: a segment is fetched (exit 0), an unarchived one is not found (1), one storage lost fails loudly (250)', () =>
    restoreCommandExitCodes(pitr));

  it('a time inside the gap fails at once with a message naming the windows', () => timeInsideGapRefused(pitr));

  it('a time after the new base backup restores', () => timeAfterNewBaseBackupRestores(pitr));

  it('synchronous mode: a commit waits while the receiver is away, and every acknowledged commit restores', () =>
    synchronousCommitsAreArchived(pitr));

  it('--slot-over-limit drop: a slot held over its limit is dropped and recreated, notified, a base backup follows and the chain reports the gap', () =>
    overLimitSlotDropped(pitr));

  it('removing the database with PITR on stops streaming and drops its slot; --delete-backups is still refused', () =>
    removalStopsStreaming(pitr));
});

type Scenario = ReturnType<typeof usePitrScenario>;

async function startArchiver(pitr: Scenario): Promise<void> {
  const args: WalArchiverInput = { database: 'ledger' };
  await pitr.platform.client.workflow.start('walArchiver', {
    taskQueue: pitr.platform.config.taskQueue,
    workflowId: 'wal/ledger',
    args: [args],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}

async function monitorReportsTheGap(pitr: Scenario): Promise<void> {
  const { platform } = pitr;
  const state = await pitr.chainMonitorUntil(
    'the gap',
    (s) => (s.last?.gaps ?? []).length > 0 && s.baseBackupsStarted.length > 0,
  );
  const gap = state.last!.gaps[0]!;
  assert.deepEqual(gap.missing, [deletedSegment]);
  assert.deepEqual(gap.notInStorage, [deletedSegment]);
  // 16 MiB segments: the gap covers exactly the deleted segment's bytes.
  const segno = BigInt(`0x${deletedSegment.slice(8, 16)}`) * 256n + BigInt(`0x${deletedSegment.slice(16)}`);
  const lsn = (n: bigint) => `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
  assert.equal(gap.fromLsn, lsn(segno * 16n * 1024n * 1024n));
  assert.equal(gap.toLsn, lsn((segno + 1n) * 16n * 1024n * 1024n));
  assert.match(
    gap.text,
    new RegExp(`timeline 1 from ${gap.fromLsn} to ${gap.toLsn}: 1 segment\\(s\\) missing \\(${deletedSegment}\\)`),
  );

  const notified = (await platform.runtime.catalog.health.notifications('ledger')).filter(
    (n) => n.event === 'wal_chain_broken',
  );
  assert.equal(notified.length, 1);
  assert.match(
    notified[0]!.message,
    new RegExp(`WAL chain of database "ledger" is broken: timeline 1 from ${gap.fromLsn}`),
  );
  assert.match(state.baseBackupsStarted[0]!.reason, /^gap: /);

  const result = await platform.client.workflow.getHandle(state.baseBackupsStarted[0]!.workflowId).result();
  assert.equal((result as { stage: string }).stage, 'complete');
  // Later rounds: the same gap is not notified again, and no second base backup is started for it.
  await new Promise((r) => setTimeout(r, 3000));
  const later = await pitr.chainState();
  assert.equal(later.baseBackupsStarted.length, 1);
  assert.equal(
    (await platform.runtime.catalog.health.notifications('ledger')).filter((n) => n.event === 'wal_chain_broken')
      .length,
    1,
  );
  assert.ok(later.last!.windows.length >= 2, 'a window starts at the new base backup');
}

async function restoreCommandExitCodes(pitr: Scenario): Promise<void> {
  const { platform, source } = pitr;
  const config = await platform.runtime.catalog.wal.config('ledger');
  const walSource = createWalSource(platform.runtime.catalog, {
    database: 'ledger',
    systemIdentifier: config.systemIdentifier!,
    segmentSize: config.walSegmentSize!,
  });
  const dataDir = path.join(platform.dir, 'fetch-target');
  await mkdir(path.join(dataDir, 'pg_wal'), { recursive: true });
  await chmod(dataDir, 0o755);
  await chmod(path.join(dataDir, 'pg_wal'), 0o777);
  const server = await startWalFetchServer({
    source: walSource,
    key: platform.runtime.key,
    logger: createLogger('test'),
  });
  const segno = BigInt(`0x${deletedSegment.slice(8, 16)}`) * 256n + BigInt(`0x${deletedSegment.slice(16)}`);
  const before = `00000001${deletedSegment.slice(8, 16)}${((segno % 256n) - 1n).toString(16).toUpperCase().padStart(8, '0')}`;
  // As PostgreSQL runs it: through /bin/sh, as the server's user, in the data directory; both the
  // restore_command a restore writes (curl) and the Node script that stands in where curl is missing.
  const commands = [
    server.restoreCommand,
    `'${process.execPath}' '${WAL_FETCH_ENTRY}' --socket '${server.socketPath}' %f %p`,
  ];
  let bytes = Buffer.alloc(0);
  try {
    for (const restoreCommand of commands) {
      const fetch = async (file: string) => {
        const command = restoreCommand.replace(/%(%|f|p)/g, (_, c: string) =>
          c === 'f' ? file : c === 'p' ? 'pg_wal/RECOVERYXLOG' : '%',
        );
        const [cmd, args] = asServerUser('sh', ['-c', command]);
        return run(cmd, args, { cwd: dataDir, env: serverEnv() }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
        );
      };
      await rm(path.join(dataDir, 'pg_wal', 'RECOVERYXLOG'), { force: true });
      assert.deepEqual(await fetch(before), { code: 0, stderr: '' }, restoreCommand);
      bytes = await readFile(path.join(dataDir, 'pg_wal', 'RECOVERYXLOG'));
      assert.equal(bytes.length, 16 * 1024 * 1024);
      // The first page header (xlog_internal.h): the source server's own page magic, timeline 1, the segment's own address.
      assert.equal(bytes.readUInt16LE(0), await walPageMagic(source));
      assert.equal(bytes.readUInt32LE(4), 1);
      assert.equal(bytes.readBigUInt64LE(8), (segno - 1n) * 16n * 1024n * 1024n);
      assert.deepEqual(await fetch('00000001000000FF000000FF'), { code: 1, stderr: '' });
      assert.deepEqual(await fetch('00000009.history'), { code: 1, stderr: '' });
      const lost = await fetch(deletedSegment);
      assert.equal(lost.code, 250);
      assert.match(lost.stderr, new RegExp(`hindsight wal-fetch: ${deletedSegment}: storage .*unable to read`));
    }

    // The same through `hindsight wal-fetch --database`, which reads the configuration and key itself.
    const env = { ...process.env, ...platform.configEnv };
    const direct = (file: string, dest: string) =>
      run(process.execPath, [path.resolve('bin/hindsight.mjs'), 'wal-fetch', file, dest, '--database', 'ledger'], {
        env,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const copy = path.join(platform.dir, 'direct-copy');
    assert.deepEqual(await direct(before, copy), { code: 0, stderr: '' });
    assert.ok((await readFile(copy)).equals(bytes), 'the same bytes as through the socket');
    assert.deepEqual(await direct('00000001000000FF000000FF', copy), { code: 1, stderr: '' });
    const directLost = await direct(deletedSegment, copy);
    assert.equal(directLost.code, 250);
    assert.match(directLost.stderr, /^hindsight wal-fetch: storage .*unable to read/);
  } finally {
    await server.close();
    await walSource.close();
  }
}

async function timeInsideGapRefused(pitr: Scenario): Promise<void> {
  const { platform } = pitr;
  const t = inGap[Math.floor(inGap.length / 2)]!.at;
  await assert.rejects(
    restore(
      platform,
      { database: 'ledger', target: { time: rfc3339Plus2(t) }, to: { directory: path.join(platform.dir, 'gap') } },
      'in-gap',
    ),
    (error: unknown) => {
      const message = failureMessage(error);
      assert.match(
        message,
        /is outside every recoverable window of database "ledger"; choose a target inside one of these windows \(UTC\): timeline 1: /,
      );
      assert.match(message, /Gaps in the archive: 1/);
      return true;
    },
  );
}

async function timeAfterNewBaseBackupRestores(pitr: Scenario): Promise<void> {
  const { platform, source } = pitr;
  const rows = await writeRows(source, 2500, 100, 'after the new base backup');
  await waitUntilArchived(platform, source);
  const k = Math.floor(rows.length / 2);
  const t = new Date((rows[k - 1]!.at.getTime() + rows[k]!.at.getTime()) / 2);
  // In UTC with "Z", as `date -u` and toISOString() write it (PostgreSQL itself refuses "Z" there).
  const { outcome } = await pitr.restoreInto('after-gap', { time: t.toISOString() }, 'after-gap');
  const restored = await restoredRows(source, outcome.port!);
  const ids = new Set(restored.map((r) => r.id));
  assert.ok(ids.has(rows[k - 1]!.id));
  assert.ok(!ids.has(rows[k]!.id));
  assert.ok(
    inGap.every((r) => ids.has(r.id)),
    'the rows written in the gap are in the new base backup',
  );
}

async function synchronousCommitsAreArchived(pitr: Scenario): Promise<void> {
  const { platform, source } = pitr;
  await stopArchiver(platform, 'ledger');
  await platform.runtime.catalog.wal.updateSettings('ledger', { synchronous: true });
  await source.query(`alter system set synchronous_standby_names = 'hindsight_ledger'`);
  await source.query('select pg_reload_conf()');
  const waiting = await connect('waiting', source.target);
  const writer = await connect('writer', source.target);
  try {
    // Test clusters run with synchronous_commit = off; these sessions wait as an application's would.
    await Promise.all([waiting, writer].map((c) => c.query('set synchronous_commit = on')));
    // No standby of that name yet: the commit is written locally and waits for it.
    const pid = (await waiting.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    let settled = false;
    const pending = waiting.query(`insert into events (at, note) values (clock_timestamp(), 'waits')`);
    void pending.then(() => (settled = true));
    await waitFor(
      'the commit to wait for the synchronous standby',
      async () => {
        const [row] = await source.query<{ w: string | null }>(
          'select wait_event as w from pg_stat_activity where pid = $1',
          [pid],
        );
        return row?.w === 'SyncRep' ? true : undefined;
      },
      10_000,
      100,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(settled, false, 'the commit is not acknowledged without the receiver');
    await startArchiver(pitr);
    await pending;
    const [standby] = await source.query<{ s: string }>(
      `select sync_state as s from pg_stat_replication where application_name = 'hindsight_ledger'`,
    );
    assert.equal(standby?.s, 'sync');
    // Rows committed one by one: the last acknowledged one survives a restore taken at once.
    let last = 0;
    for (const until = Date.now() + 2000; Date.now() < until;)
      last = (await writer.query<{ id: number }>(`insert into events (at, note) values (now(), 'ack') returning id`))
        .rows[0]!.id;
    const { outcome } = await pitr.restoreInto('sync-latest', 'latest', 'sync-latest');
    const restored = await restoredRows(source, outcome.port!);
    assert.ok(
      restored.some((r) => r.id === last),
      `the last acknowledged row ${last} is restored (newest: ${restored.at(-1)?.id})`,
    );
  } finally {
    await Promise.all([waiting.end(), writer.end()]);
    await source.query('alter system reset synchronous_standby_names');
    await source.query('select pg_reload_conf()');
    await platform.runtime.catalog.wal.updateSettings('ledger', { synchronous: false });
  }
}

async function overLimitSlotDropped(pitr: Scenario): Promise<void> {
  const { platform, source } = pitr;
  const wal = platform.runtime.catalog.wal;
  // The archiver stops alone (PITR stays on): the slot holds everything written meanwhile.
  await stopArchiver(platform, 'ledger');
  const archivedTo = (await wal.latestDurable('ledger'))!.lsn;
  for (let i = 0; i < 3; i++) {
    await writeRows(source, 100, 20, 'held by the slot');
    await source.query('select pg_switch_wal()');
  }
  // Now the slot pins WAL from before the server's last checkpoint: dropping it frees disk.
  await source.query('checkpoint');
  await wal.updateSettings('ledger', { slotMaxBytes: 1, slotOverLimit: 'drop' });
  const basesBefore = new Set((await wal.baseBackupsOf('ledger')).map((b) => b.id));
  await startArchiver(pitr);
  const dropped = await waitFor(
    'a wal_slot_dropped notification',
    async () =>
      (await platform.runtime.catalog.health.notifications('ledger')).find((n) => n.event === 'wal_slot_dropped'),
    30_000,
    200,
  );
  await wal.updateSettings('ledger', { slotMaxBytes: null, slotOverLimit: 'alert' });
  assert.match(dropped.message, /^database "ledger": replication slot "hindsight_ledger" held \d+\.\d MiB of WAL/);
  assert.match(dropped.message, new RegExp(`the archive ends at ${formatLsn(archivedTo)} and streaming resumes at `));
  assert.match(dropped.message, /A base backup follows to start a new recoverable window/);

  const [slot] = await source.query<{ restart: string | null }>(
    `select restart_lsn::text as restart from pg_replication_slots where slot_name = 'hindsight_ledger'`,
  );
  assert.ok(slot?.restart && parseLsn(slot.restart) > archivedTo, `slot recreated, at ${slot?.restart}`);
  const base = await waitFor(
    'a base backup after the drop',
    async () =>
      (await wal.baseBackupsOf('ledger')).find(
        (b) => !basesBefore.has(b.id) && b.status === 'complete' && b.startLsn! > archivedTo,
      ),
    60_000,
    500,
  );
  assert.ok(base.stopLsn! >= base.startLsn!);
  // Streaming resumed: rows written now reach storage.
  await writeRows(source, 200, 20, 'after the drop');
  await waitUntilArchived(platform, source);

  const chain = await recoverableWindows(platform.runtime.catalog, 'ledger');
  const gap = chain.gaps.find((g) => g.fromLsn === formatLsn(archivedTo));
  assert.ok(gap, `a gap from ${formatLsn(archivedTo)} among ${JSON.stringify(chain.gaps.map((g) => g.text))}`);
  assert.ok(parseLsn(gap.toLsn) > archivedTo);
}

async function removalStopsStreaming(pitr: Scenario): Promise<void> {
  const { platform, source } = pitr;
  await assert.rejects(
    platform.services.databases.remove(systemActor, 'ledger', { backups: 'delete' }),
    /has PITR on.*turn it off first/,
  );
  const outcome = await platform.ops.removeDatabase('ledger');
  assert.match(outcome.message, /WAL streaming stopped and replication slot "hindsight_ledger" dropped/);
  const slots = await source.query<{ n: string }>(
    `select count(*)::text as n from pg_replication_slots where slot_name = 'hindsight_ledger'`,
  );
  assert.equal(slots[0]!.n, '0');
  const archiver = await platform.client.workflow.getHandle('wal/ledger').describe();
  assert.notEqual(archiver.status.name, 'RUNNING');
}
