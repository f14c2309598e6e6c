import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { prepareDataDirectory } from '../../lib/pitr/extract.ts';
import { extendHeadToNow, planRestore } from '../../lib/pitr/plan.ts';
import { recoverySettings, writeRecoverySettings } from '../../lib/pitr/recovery-settings.ts';
import { analyseChain } from '../../lib/wal/chain.ts';
import { segmentEndLsn, segmentStartLsn } from '../../lib/wal/lsn.ts';
import { pitrRestoreInput } from '../../temporal/contracts/pitr.ts';

const MiB = 1024 * 1024;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('point-in-time restore: input, plan and settings', () => {
  it('accepts only times with an explicit offset, and each kind of target once', () => {
    const ok = (target: unknown) =>
      pitrRestoreInput.safeParse({ database: 'shop', target, to: { directory: '/srv/r' } }).success;
    assert.ok(ok({ time: '2026-11-23T10:15:30Z' }));
    assert.ok(ok({ time: '2026-11-23T10:15:30.123456+05:30' }));
    assert.ok(!ok({ time: '2026-11-23T10:15:30' }), 'no offset');
    assert.ok(!ok({ time: '2026-11-23 10:15' }));
    assert.ok(!ok({ time: '2026-13-45T10:15:30Z' }), 'not a date');
    assert.ok(!ok({ time: '2026-11-23T23:18:57.693721767' }), 'nanoseconds without an offset');
    assert.ok(!ok({ time: '2026-11-23T23:18:57.Z' }), 'a point without digits');
    assert.ok(ok({ lsn: '16/B374D848' }));
    assert.ok(!ok({ lsn: '16B374D848' }));
    assert.ok(ok({ xid: 7421 }) && ok({ xid: '7421' }));
    assert.ok(ok({ name: 'before_migration' }));
    assert.ok(ok('latest') && ok('immediate'));
    assert.ok(!ok({ time: '2026-11-23T10:15:30Z', lsn: '0/1' }), 'one target only');
    const to = (value: unknown) =>
      pitrRestoreInput.safeParse({ database: 'shop', target: 'latest', to: value }).success;
    assert.ok(to({ sandbox: true }) && to({ directory: '/srv/r', agent: 'db-host-1' }));
    assert.ok(!to({ directory: 'relative/dir' }) && !to({ directory: '/srv/../etc' }) && !to({ sandbox: false }));
  });

  it('writes the recovery settings for each target into its own postgresql.conf, replacing the previous one whole', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pitr-conf-'));
    dirs.push(dir);
    // As in a base backup taken from a standby: its settings are never read, its signal goes.
    await writeFile(
      path.join(dir, 'postgresql.auto.conf'),
      "primary_conninfo = 'host=primary user=replicator password=Repl1c4-s3cret'\nprimary_slot_name = 'standby_1'\n",
    );
    await writeFile(path.join(dir, 'standby.signal'), '');
    const base = {
      timeline: 2,
      restoreCommand: "'/usr/bin/node' '/opt/it''s/bin/hindsight-wal-fetch.mjs' --socket '/tmp/s' %f %p",
    };
    const server = { port: '54400', listen_addresses: "'127.0.0.1'", archive_mode: 'off' };
    await writeRecoverySettings(
      dir,
      server,
      recoverySettings({ ...base, target: { time: '2026-11-23T10:15:30+01:00' } }),
    );
    await writeRecoverySettings(dir, server, recoverySettings({ ...base, target: { lsnReached: '0/3000148' } }));
    const conf = await readFile(path.join(dir, 'postgresql.conf'), 'utf8');
    assert.equal(
      await readFile(path.join(dir, 'postgresql.auto.conf'), 'utf8'),
      '',
      'ALTER SYSTEM settings of the source are gone',
    );
    assert.doesNotMatch(conf, /recovery_target_time =/, 'the second write replaced the first');
    assert.match(conf, /recovery_target_lsn = '0\/3000148'/);
    assert.match(
      conf,
      /restore_command = '''\/usr\/bin\/node'' ''\/opt\/it''''s\/bin\/hindsight-wal-fetch\.mjs'' --socket ''\/tmp\/s'' %f %p'/,
    );
    assert.match(conf, /recovery_target_timeline = '2'\nrecovery_target_action = 'promote'/);
    assert.match(conf, /\nport = 54400\nlisten_addresses = '127\.0\.0\.1'\narchive_mode = off\n/);
    assert.equal(await readFile(path.join(dir, 'recovery.signal'), 'utf8'), '');
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.signal')),
      ['recovery.signal'],
      "a standby's standby.signal is gone",
    );
    assert.match(
      conf,
      /\nprimary_conninfo = ''\nprimary_slot_name = ''\n/,
      "nor does it stream from the standby's primary",
    );
    for (const file of ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf']) {
      assert.doesNotMatch(
        await readFile(path.join(dir, file), 'utf8'),
        /Repl1c4-s3cret|standby_1/,
        `the standby's replication password and slot are not in ${file}`,
      );
    }
    assert.equal(
      recoverySettings({ ...base, target: { time: '2026-11-23T10:15:30.123456Z' } }).recovery_target_time,
      "'2026-11-23T10:15:30.123456+00:00'",
    );
    assert.equal(
      recoverySettings({ ...base, target: { time: '2026-11-23T10:15:30-05:00' } }).recovery_target_time,
      "'2026-11-23T10:15:30-05:00'",
    );
    assert.equal(recoverySettings({ ...base, target: 'immediate' }).recovery_target, "'immediate'");
    assert.equal(recoverySettings({ ...base, target: 'latest' }).recovery_target, undefined);
    assert.equal(recoverySettings({ ...base, target: { xid: '7421' } }).recovery_target_xid, "'7421'");
    assert.equal(recoverySettings({ ...base, target: { name: "it's" } }).recovery_target_name, "'it''s'");
  });

  it('restores only into an empty or absent directory, or one an earlier attempt of the same restore left', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'pitr-dir-'));
    dirs.push(root);
    await chmod(root, 0o755);
    const absent = path.join(root, 'a', 'b');
    assert.deepEqual(await prepareDataDirectory(absent, 'pitr-1', async () => undefined), { created: true });
    await writeFile(path.join(absent, 'PG_VERSION'), '15\n');
    let stopped = 0;
    assert.deepEqual(
      await prepareDataDirectory(absent, 'pitr-1', async () => {
        stopped += 1;
      }),
      { created: false },
    );
    assert.equal(stopped, 1, 'the leftover server of the same restore is stopped');
    assert.deepEqual(await readdir(absent), ['hindsight-restore.id']);
    await writeFile(path.join(absent, 'PG_VERSION'), '15\n');
    await assert.rejects(
      prepareDataDirectory(absent, 'pitr-2', async () => undefined),
      /is not empty \(PG_VERSION, hindsight-restore\.id\): a restore never writes over existing files/,
    );
    const foreign = path.join(root, 'foreign');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'postmaster.pid'), '1\n');
    await assert.rejects(
      prepareDataDirectory(foreign, 'pitr-1', async () => undefined),
      /is not empty \(postmaster\.pid\)/,
    );
    await writeFile(path.join(root, 'file'), '');
    await assert.rejects(
      prepareDataDirectory(path.join(root, 'file'), 'pitr-1', async () => undefined),
      /exists and is not a directory/,
    );
  });

  it('plans from the window that holds the target, and names every window when none does', () => {
    const size = 16 * MiB;
    const seg = (segno: number, at: number) => ({
      timeline: 1,
      segno: BigInt(segno),
      endLsn: segmentEndLsn(BigInt(segno), size),
      complete: true,
      receivedAt: new Date(Date.UTC(2026, 10, 23, 10, 0, at)),
    });
    const analysis = analyseChain({
      segmentSize: size,
      segments: [seg(1, 1), seg(2, 2), seg(3, 3), seg(5, 5), seg(6, 6)],
      baseBackups: [
        {
          id: 'b1',
          timeline: 1,
          startLsn: segmentStartLsn(1n, size) + 40n,
          stopLsn: segmentStartLsn(1n, size) + 400n,
          stopTime: new Date(Date.UTC(2026, 10, 23, 10, 0, 1)),
        },
        {
          id: 'b2',
          timeline: 1,
          startLsn: segmentStartLsn(5n, size) + 40n,
          stopLsn: segmentStartLsn(5n, size) + 400n,
          stopTime: new Date(Date.UTC(2026, 10, 23, 10, 0, 5)),
        },
      ],
      histories: [],
    });
    const chain = {
      database: 'shop',
      systemIdentifier: '7300000000000000001',
      segmentSize: size,
      storageName: 'local',
      agent: null,
      analysis,
      baseBackups: [],
      runningBaseBackups: 0,
    };
    const first = planRestore(chain, { time: '2026-11-23T11:00:02+01:00' });
    assert.deepEqual([first.baseBackupId, first.endsAtHead], ['b1', false], 'the first window ends at the gap');
    const second = planRestore(chain, { time: '2026-11-23T10:00:05.5Z' });
    assert.deepEqual([second.baseBackupId, second.endsAtHead], ['b2', true]);
    assert.throws(
      () => planRestore(chain, { time: '2026-11-23T10:00:04Z' }),
      (error: Error) => {
        assert.equal(
          error.message,
          'time 2026-11-23T10:00:04Z (2026-11-23T10:00:04.000Z) is outside every recoverable window of database "shop"; choose a target inside one of these windows (UTC): ' +
            'timeline 1: 2026-11-23T10:00:01.000Z (0/1000190) to 2026-11-23T10:00:03.000Z (0/4000000), base backup b1; ' +
            'timeline 1: 2026-11-23T10:00:05.000Z (0/5000190) to 2026-11-23T10:00:06.000Z (0/7000000), base backup b2. Gaps in the archive: 1 (the WAL chain monitor names them).',
        );
        return true;
      },
    );
    assert.throws(
      () => planRestore(chain, { lsn: '0/4500000' }, { timeZone: 'Europe/Paris' }),
      /LSN 0\/4500000 is outside .*: timeline 1: 2026-11-23T10:00:01\.000Z \(0\/1000190\) to 2026-11-23T10:00:03\.000Z \(0\/4000000\), base backup b1 \(2026-11-23 11:00:01 Europe\/Paris to 2026-11-23 11:00:03 Europe\/Paris\);/,
    );
    // An idle server that has written nothing beyond the archive: the head window ends now, the other does not move.
    const now = new Date(Date.UTC(2026, 10, 23, 10, 5, 0));
    const idle = extendHeadToNow(chain, { timeline: 1, lsn: segmentEndLsn(6n, size) }, now);
    assert.deepEqual(
      idle.analysis.windows.map((w) => w.to.time.toISOString()),
      ['2026-11-23T10:00:03.000Z', '2026-11-23T10:05:00.000Z'],
    );
    assert.equal(planRestore(idle, { time: '2026-11-23T10:04:00Z' }).baseBackupId, 'b2');
    const busy = extendHeadToNow(chain, { timeline: 1, lsn: segmentEndLsn(6n, size) + 1n }, now);
    assert.deepEqual(
      busy.analysis.windows.map((w) => w.to.time.toISOString()),
      ['2026-11-23T10:00:03.000Z', '2026-11-23T10:00:06.000Z'],
      'a server ahead of the archive',
    );
    const other = extendHeadToNow(chain, { timeline: 2, lsn: 0n }, now);
    assert.deepEqual(
      other.analysis.windows.map((w) => w.to.time.toISOString()),
      ['2026-11-23T10:00:03.000Z', '2026-11-23T10:00:06.000Z'],
      'a server on another timeline',
    );
    assert.throws(
      () => planRestore({ ...chain, analysis: { windows: [], gaps: [], unusableBaseBackups: [] } }, 'latest'),
      /has no recoverable window, so latest cannot be restored: there is no complete base backup/,
    );
  });
});

describe('point-in-time restore: a target time', () => {
  it('takes any number of fractional digits and cuts them to microseconds, toward the past', () => {
    const timeOf = (time: string) => {
      const parsed = pitrRestoreInput.parse({ database: 'shop', target: { time }, to: { directory: '/srv/r' } });
      return (parsed.target as { time: string }).time;
    };
    assert.equal(timeOf('2026-11-23T23:18:57.693721767Z'), '2026-11-23T23:18:57.693721Z');
    assert.equal(timeOf('2026-11-23T23:18:57.999999999+05:30'), '2026-11-23T23:18:57.999999+05:30', 'never rounded up');
    assert.equal(timeOf('2026-11-23T23:18:57.5Z'), '2026-11-23T23:18:57.5Z');
    assert.equal(timeOf('2026-11-23T23:18:57Z'), '2026-11-23T23:18:57Z');
  });
});
