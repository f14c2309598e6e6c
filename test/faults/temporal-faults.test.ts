/**
 * Temporal's server killed with SIGKILL and started again 10 s later on the same SQLite file. It
 * runs as a process of its own, as a compose deployment runs it (not under `npm start`), with a
 * real worker connected to it. Mid-backup, the backup completes exactly once: one complete row,
 * one object and its manifest, no partial, restoring identical. Mid-point-in-time-restore, the
 * restore completes with the tables as they were at the target, or fails cleanly (failed, with its
 * reason, nothing presented as done) and the same restore started again completes identical.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { MARKER } from '../../lib/pitr/extract.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { assertInAgreement, assertRestoresIdentical, dumpIsCopying, LEDGER } from '../support/fault-checks.ts';
import { tableHashes } from '../support/guide-platform.ts';
import {
  enablePitr,
  startPitrSource,
  stopArchiver,
  stopRestoredServer,
  takeBaseBackup,
  waitUntilArchived,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { createFilledDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { TemporalProcess } from '../support/temporal-process.ts';
import { waitFor } from '../support/wait.ts';

/** How long Temporal stays down before it is started again. */
const DOWN_MS = 10_000;

/** A third of the ledger: a base backup of some seconds to extract, quicker to load than the whole. */
const PITR_LEDGER = LEDGER.replace('generate_series(1, 600000)', 'generate_series(1, 200000)');

describe('Temporal faults: its server killed with SIGKILL and restarted after 10 s', () => {
  let dir: string;
  let temporal: TemporalProcess;
  let platform: Platform;
  let cluster: LocalCluster;
  let source: PgTarget;
  let pitr: PitrSource | undefined;
  const restoredDirs: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hindsight-temporal-faults-'));
    temporal = await TemporalProcess.start(dir);
    platform = await startPlatform({ temporalAddress: temporal.address });
    cluster = await startTestCluster(platform.dir, { name: 'ledger-source' });
    source = await createFilledDatabase(cluster, 'ledger', LEDGER);
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    for (const restored of restoredDirs) await stopRestoredServer(restored);
    if (pitr) await stopArchiver(platform, pitr.database);
    await pitr?.cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
    await cluster?.stop('immediate').catch(() => undefined);
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function killTemporalForTenSeconds(): Promise<void> {
    await temporal.kill();
    await sleep(DOWN_MS);
    await temporal.restart();
  }

  it('mid-backup: the backup completes exactly once and restores identical', async () => {
    const backup = await platform.ops.startBackup('ledger');
    await dumpIsCopying(cluster);
    await killTemporalForTenSeconds();
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete');
    const rows = await platform.runtime.catalog.listBackups('ledger');
    assert.deepEqual(
      rows.map((r) => [r.id, r.status]),
      [[outcome.backupId, 'complete']],
      'one backup row, complete',
    );
    const { rows: copies } = await platform.runtime.catalog.pool.query<{ n: number }>(
      'select count(*)::int as n from backup_copies where backup_id = $1',
      [outcome.backupId],
    );
    assert.equal(copies[0]!.n, 1, 'one copy row');
    const id = outcome.backupId;
    assert.deepEqual(
      (await readdir(path.join(platform.backupsDir, 'ledger'))).sort(),
      [`${id}.dump.hsb`, `${id}.json`, `${id}.roles.hsb`],
      'one object and its manifest, no partial',
    );
    await assertRestoresIdentical(platform, { database: 'ledger', backupId: id, source }, 'ledger_restored');
    await assertInAgreement(platform);
  });

  it('mid-PITR-restore: the restore completes at the target, or fails cleanly and completes when started again', async () => {
    const { expected, time } = await pitrWorldAtT();
    const restoredDir = path.join(platform.dir, 'shop-at-t');
    restoredDirs.push(restoredDir);
    const start = () =>
      platform.services.restores.start(systemActor, {
        database: 'shop',
        pointInTime: { time },
        to: { directory: restoredDir },
      });
    const first = await start();
    await waitFor('the base backup being extracted', () => extracting(restoredDir), 60_000, 50);
    await killTemporalForTenSeconds();
    // PostgreSQL removes recovery.signal when it promotes: still there, the restore outlasted the outage.
    const replaying = await access(path.join(restoredDir, 'recovery.signal')).then(
      () => 'still replaying WAL',
      () => 'past its replay',
    );
    process.stdout.write(`# the restore was ${replaying} when Temporal answered again\n`);
    const outcome = await first.result().then(
      (done) => done as PitrOutcome,
      () => undefined,
    );
    const status = await platform.services.restoreStatus.status(systemActor, first.workflowId);
    if (outcome) {
      assert.equal(status.state, 'completed');
      assert.deepEqual(await restoredHashes(outcome), expected, 'the restored tables are as they were at T');
    } else {
      process.stdout.write(`# the restore failed across Temporal's restart: ${status.error}; starting it again\n`);
      assert.equal(status.state, 'failed');
      assert.ok(status.error, 'a failed restore says why');
      assert.equal(status.verified, null, 'nothing half-restored is presented as done');
      const again = (await (await start()).result()) as PitrOutcome;
      assert.deepEqual(await restoredHashes(again), expected, 'the restore started again is as the tables were at T');
    }
    await assertInAgreement(platform);
  });

  /**
   * A source with PITR on, a base backup, rows written before and after a moment T, all archived:
   * the tables' ordered hashes as they were at T, and T.
   */
  async function pitrWorldAtT() {
    pitr = await startPitrSource(platform, 'shop', 'shop-source');
    await pitr.query(PITR_LEDGER);
    await enablePitr(platform, pitr);
    await takeBaseBackup(platform, 'shop', 'first');
    // WAL to replay (over 100 MB), so that the restore usually outlasts Temporal's outage (the run says whether it did).
    for (let pass = 0; pass < 5; pass += 1) await pitr.query(`update ledger set memo = memo || ' again'`);
    await pitr.query(`insert into events (at, note) select clock_timestamp(), 'before T ' || g from generate_series(1, 50) g;
      update ledger set memo = 'changed before T' where id % 1000 = 0`);
    const expected = await tableHashes(pitr.target);
    const [row] = await pitr.query<{ t: string }>(
      `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
    );
    await sleep(300);
    await pitr.query(`insert into events (at, note) select clock_timestamp(), 'after T ' || g from generate_series(1, 50) g;
      update ledger set memo = 'changed after T' where id % 1000 = 1`);
    await waitUntilArchived(platform, pitr);
    return { expected, time: row!.t };
  }

  async function restoredHashes(outcome: PitrOutcome) {
    assert.ok(outcome.port, 'the restored server is kept running');
    return tableHashes({ ...pitr!.target, host: '127.0.0.1', port: outcome.port, sslmode: 'disable' });
  }
});

/** True once the restore has written part of the base backup into its directory (more than its marker). */
async function extracting(dataDir: string): Promise<true | undefined> {
  const names = await readdir(dataDir).catch(() => [] as string[]);
  return names.some((n) => n !== MARKER) ? true : undefined;
}
