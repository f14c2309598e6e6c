import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { recoverableWindows } from '../../lib/pitr/window.ts';
import { formatLsn, parseLsn, segmentOf } from '../../lib/wal/lsn.ts';
import { walPrefix } from '../../lib/wal/archive-keys.ts';
import { chainQuery, type WalArchiverInput, type WalChainMonitorInput } from '../../temporal/contracts/pitr.ts';
import { assertInAgreement } from '../support/fault-checks.ts';
import {
  restore,
  startPitrSource,
  stopArchiver,
  stopRestoredServer,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
  type Row,
} from '../support/pitr-fixture.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';
import {
  assertContiguousFrom,
  assertNothingLooksComplete,
  eventsHash,
  uncommittedWalWrites,
} from '../support/wal-fault-checks.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

/**
 * The WAL archiver under faults, on a source server of its own with PITR on. The archiver's
 * activity runs on an agent worker in its own process (`--agent walhost`), so that it can be
 * SIGKILLed while it uploads a partial segment; the in-process worker runs the workflows. Then the
 * slot is invalidated by the server itself (`max_slot_wal_keep_size`) while the archiver is away.
 * Each case ends with a PITR restore compared by ordered hashes, the archive's objects decoded and
 * `doctor --deep`.
 */

const DATABASE = 'ledger';
const AGENT = 'walhost';

describe('WAL archiver faults: killed mid-upload of a partial, and a slot invalidated by the server', () => {
  let platform: Platform;
  let source: PitrSource;
  let agent: WorkerProcess | undefined;
  let firstBaseStart = 0n;
  const restoredDirs: string[] = [];
  /** pg_receivewal processes of killed agents: ended here at the latest. */
  const orphans: number[] = [];
  let restores = 0;

  const startAgent = async () => {
    agent = await startWorkerProcess(
      { ...platform.configEnv, HINDSIGHT_WAL_SPOOL_DIR: path.join(platform.dir, 'wal-spool') },
      120_000,
      ['--agent', AGENT],
    );
  };

  const startArchiver = () =>
    platform.client.workflow.start('walArchiver', {
      taskQueue: platform.config.taskQueue,
      workflowId: `wal/${DATABASE}`,
      args: [{ database: DATABASE } satisfies WalArchiverInput],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, DATABASE);
    // Notes stored as they are, uncompressed: each row adds its full size to the WAL.
    await source.query('alter table events alter column note set storage external');
    await platform.startWorker();
    await startAgent();
    await platform.ops.addDatabase({ name: DATABASE, url: targetUrl(source.target), verifyAfterBackup: false });
    await platform.runtime.catalog.wal.updateSettings(DATABASE, {
      enabled: true,
      partialIntervalMs: 200,
      agent: AGENT,
    });
    await startArchiver();
    await waitUntilArchived(platform, source, 60_000);
    const first = await takeBaseBackup(platform, DATABASE, 'first');
    assert.equal(first.stage, 'complete');
    const [base] = await platform.runtime.catalog.wal.baseBackupsOf(DATABASE);
    firstBaseStart = base!.startLsn!;
  });

  after(async () => {
    for (const dir of restoredDirs) await stopRestoredServer(dir);
    await platform?.client.workflow
      .getHandle(`walchain/${DATABASE}`)
      .terminate('test over')
      .catch(() => undefined);
    if (platform) await stopArchiver(platform, DATABASE);
    await agent?.stop();
    for (const pid of orphans.filter(alive)) process.kill(pid, 'SIGKILL');
    await source?.cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  /** Restores to the middle of `rows` (after the fault) and compares the events up to T with the source's, in order. */
  async function assertRestoresToTimeAfter(rows: Row[]): Promise<void> {
    const k = Math.floor(rows.length / 2);
    const [before, afterT] = [rows[k - 1]!, rows[k]!];
    const t = new Date((before.at.getTime() + afterT.at.getTime()) / 2);
    const dir = path.join(platform.dir, `restored-${(restores += 1)}`);
    restoredDirs.push(dir);
    const outcome = await restore(
      platform,
      { database: DATABASE, target: { time: t.toISOString() }, to: { directory: dir } },
      `after-fault-${restores}`,
    );
    const restored = { ...source.target, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' as const };
    assert.deepEqual(
      await eventsHash(restored),
      await eventsHash(source.target, before.id),
      `a restore to ${t.toISOString()} holds exactly the events up to row ${before.id}, in order`,
    );
  }

  it('the archiver SIGKILLed mid-upload of a partial: no gap, nothing half-written looks complete, a restore after the kill is identical', async () => {
    const { systemIdentifier } = await platform.runtime.catalog.wal.config(DATABASE);
    const walDir = path.join(platform.backupsDir, walPrefix(systemIdentifier!));
    const bulk = startBulkWriter(source);
    const receivers = await childrenNamed(agent!.child.pid!, 'pg_receivewal');
    assert.equal(receivers.length, 1, 'the agent runs one pg_receivewal');
    orphans.push(...receivers);
    const killedDuring = await killDuringPartialUpload(agent!, walDir).catch(async (error: unknown) => {
      await bulk.stop();
      throw error;
    });
    try {
      const leftBehind = await uncommittedWalWrites(platform, systemIdentifier!);
      assert.ok(leftBehind.includes(killedDuring), `the kill left the upload ${killedDuring} unfinished`);
      // The slot keeps what the source writes while no archiver runs.
      await writeRows(source, 1000, 50, 'while the archiver is dead');
    } finally {
      await bulk.stop();
    }
    await startAgent();
    await waitUntilArchived(platform, source, 90_000);
    // pg_receivewal outlived the killed agent; the new run ended its connection, so it exited.
    await waitFor('the orphaned pg_receivewal to exit', async () => (receivers.some(alive) ? undefined : true), 10_000);
    const rows = await writeRows(source, 1500, 50, 'after the restart');
    await waitUntilArchived(platform, source);
    // The new archiver swept the killed upload's hidden file before its first stream.
    assert.ok(
      !(await uncommittedWalWrites(platform, systemIdentifier!)).includes(killedDuring),
      `the killed upload ${killedDuring} is swept by the next archiver`,
    );

    const segments = await assertNothingLooksComplete(platform, DATABASE);
    const config = await platform.runtime.catalog.wal.config(DATABASE);
    assertContiguousFrom(segments, segmentOf(firstBaseStart, config.walSegmentSize!));
    const chain = await recoverableWindows(platform.runtime.catalog, DATABASE);
    assert.deepEqual(
      chain.gaps.map((g) => g.text),
      [],
      'the archive has no gap',
    );
    await assertRestoresToTimeAfter(rows);
    await assertInAgreement(platform);
  });

  it('the slot invalidated by max_slot_wal_keep_size: detected, notified once, dropped and recreated, a base backup closes the gap', async () => {
    const wal = platform.runtime.catalog.wal;
    await stopArchiver(platform, DATABASE);
    const archivedTo = (await wal.latestDurable(DATABASE))!.lsn;
    await invalidateSlot(source, `hindsight_${DATABASE}`);
    const basesBefore = new Set((await wal.baseBackupsOf(DATABASE)).map((b) => b.id));
    await platform.client.workflow.start('walChainMonitor', {
      taskQueue: platform.config.taskQueue,
      workflowId: `walchain/${DATABASE}`,
      args: [{ database: DATABASE, intervalSeconds: 1 } satisfies WalChainMonitorInput],
    });
    await startArchiver();

    const notified = await waitFor(
      'a notification of the lost slot',
      async () =>
        (await platform.runtime.catalog.health.notifications(DATABASE)).find((n) => n.event === 'wal_slot_dropped'),
      60_000,
      300,
    );
    assert.match(
      notified.message,
      new RegExp(
        `^database "${DATABASE}": replication slot "hindsight_${DATABASE}" on 127\\.0\\.0\\.1:${source.target.port} was invalidated by the server \\(wal_status 'lost'\\)`,
      ),
    );
    assert.match(notified.message, /max_slot_wal_keep_size/);
    assert.match(notified.message, new RegExp(`the archive ends at ${formatLsn(archivedTo)}`));
    const base = await waitFor(
      'a base backup after the lost slot',
      async () =>
        (await wal.baseBackupsOf(DATABASE)).find(
          (b) => !basesBefore.has(b.id) && b.status === 'complete' && b.startLsn! > archivedTo,
        ),
      90_000,
      500,
    );
    const [slot] = await source.query<{ status: string }>(
      `select wal_status as status from pg_replication_slots where slot_name = 'hindsight_${DATABASE}'`,
    );
    assert.equal(slot?.status, 'reserved', 'the slot was created again');

    const rows = await writeRows(source, 1500, 50, 'after the new base backup');
    await waitUntilArchived(platform, source);
    const state = await waitFor(
      'the chain monitor to report the gap',
      async () => {
        const s = await platform.client.workflow.getHandle(`walchain/${DATABASE}`).query(chainQuery);
        return s.last?.gaps.some((g) => g.fromLsn === formatLsn(archivedTo)) ? s : undefined;
      },
      30_000,
      500,
    );
    const newest = state.last!.windows.at(-1)!;
    assert.ok(parseLsn(newest.from.lsn) >= base.stopLsn!, 'the newest window starts at a base backup after the gap');
    await assertRestoresToTimeAfter(rows);

    // Several more checks: still one notification of each kind.
    const rounds = state.rounds;
    await waitFor(
      'three more chain checks',
      async () => {
        const s = await platform.client.workflow.getHandle(`walchain/${DATABASE}`).query(chainQuery);
        return s.rounds >= rounds + 3 ? true : undefined;
      },
      30_000,
      500,
    );
    const events = (await platform.runtime.catalog.health.notifications(DATABASE)).map((n) => n.event);
    assert.deepEqual(
      [events.filter((e) => e === 'wal_slot_dropped').length, events.filter((e) => e === 'wal_chain_broken').length],
      [1, 1],
      `one lost-slot and one gap notification (${events.join(', ')})`,
    );
    await assertNothingLooksComplete(platform, DATABASE);
    await assertInAgreement(platform);
  });
});

const run = promisify(execFile);

/** The processes named `name` whose parent is `parent`. */
async function childrenNamed(parent: number, name: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,comm=', '--ppid', String(parent)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, comm]) => comm === name)
    .map(([pid]) => Number(pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Inserts rows of 64 KiB of random text back to back until stopped: a partial segment of megabytes. */
function startBulkWriter(source: PitrSource) {
  let stopped = false;
  const done = (async () => {
    const client = await connect('bulk writer', source.target);
    try {
      while (!stopped)
        await client.query(
          `insert into events (at, note) select clock_timestamp(), string_agg(md5(random()::text), '') from generate_series(1, 2048)`,
        );
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/**
 * SIGKILLs the agent the moment its local storage opens the hidden file of a partial segment's
 * upload (`.<segment>.partial.zst.hsb.partial-…`), i.e. before the upload is renamed into place.
 * Returns that file's name once the agent has exited.
 */
async function killDuringPartialUpload(agent: WorkerProcess, walDir: string): Promise<string> {
  const upload = /^\.[0-9A-F]{24}\.partial\.zst\.hsb\.partial-/;
  const exited = once(agent.child, 'exit');
  const seen = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`no partial segment upload began in ${walDir} within 60 s`));
    }, 60_000);
    const watcher = watch(walDir, (_event, name) => {
      if (!name || !upload.test(name)) return;
      agent.child.kill('SIGKILL');
      clearTimeout(timer);
      watcher.close();
      resolve(name);
    });
  });
  await exited;
  return seen;
}

/**
 * With the archiver stopped, lets the server throw away WAL the slot holds: `max_slot_wal_keep_size`
 * of 1 MB, three segments written, a checkpoint. Resolves once `wal_status` is `lost`.
 */
async function invalidateSlot(source: PitrSource, slot: string): Promise<void> {
  const admin = await connect('fault test', source.cluster.target('postgres'));
  try {
    await admin.query(`alter system set max_slot_wal_keep_size = '1MB'`);
    await admin.query('select pg_reload_conf()');
    for (let i = 0; i < 3; i++) {
      await writeRows(source, 100, 20, 'thrown away by the server');
      await admin.query('select pg_switch_wal()');
    }
    await waitFor(
      `slot ${slot} invalidated`,
      async () => {
        await admin.query('checkpoint');
        const { rows } = await admin.query<{ status: string }>(
          'select wal_status as status from pg_replication_slots where slot_name = $1',
          [slot],
        );
        return rows[0]?.status === 'lost' ? true : undefined;
      },
      20_000,
      500,
    );
  } finally {
    await admin.query('alter system reset max_slot_wal_keep_size').catch(() => undefined);
    await admin.query('select pg_reload_conf()').catch(() => undefined);
    await admin.end();
  }
}
