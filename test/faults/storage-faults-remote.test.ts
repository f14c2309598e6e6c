import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { isPartialName } from '../../lib/storage/shared/partial-files.ts';
import { assertInAgreement, assertRestoresIdentical } from '../support/fault-checks.ts';
import type { Fault, FaultProxy } from '../support/fault-proxy.ts';
import { createFilledDatabase, startPlatform, type Platform } from '../support/platform.ts';
import {
  assertNoVisibleFileOf,
  blobsWithUncommittedBlocks,
  filesBelow,
  startRemoteStorages,
  type RemoteStorages,
} from '../support/remote-fault-storages.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Backups to Azure Blob (Azurite), SFTP (OpenSSH's sshd) and FTP (ftp-srv), each reached through a
 * proxy that injects network faults, as test/faults/storage-faults.test.ts does for S3. Each case
 * ends with the same checks: the backup the run reports restores identical to its source, nothing
 * in storage could pass for complete (no uncommitted Azure blocks, no visible file of a failed copy),
 * and `doctor --deep` finds the catalog, Temporal and every storage in agreement. FTP's passive data
 * connections go straight to the server: its proxy sits in front of the control connection only.
 */

/** About 13 MiB of dump, 7 MiB stored: more than one 4 MiB Azure block, so a reset lands between blocks. */
const LEDGER = `create table ledger (id int primary key, account text not null, memo text not null);
  insert into ledger select g, 'acct-' || (g % 997), md5(g::text) || md5((g + 1)::text) || md5((g * 7)::text)
  from generate_series(1, 120000) g;`;

type Kind = 'azure' | 'sftp' | 'ftp';

/** A fault that leaves a backup hanging fails its case instead of the whole run. */
const CASE = { timeout: 4 * 60_000 };

describe('remote storage faults: Azure Blob, SFTP and FTP through resets, latency, stalls and an outage', () => {
  let platform: Platform;
  let storages: RemoteStorages;
  let source: PgTarget;
  let restores = 0;

  before(async () => {
    platform = await startPlatform();
    storages = await startRemoteStorages(platform);
    source = await createFilledDatabase(platform.cluster, 'ledger_source', LEDGER);
    await platform.startWorker();
    for (const kind of ['azure', 'sftp', 'ftp'] as const) {
      const add = (name: string, on: string[]) =>
        platform.ops.addDatabase({ name, url: targetUrl(source), storages: on, verifyAfterBackup: false });
      await add(`only_${kind}`, [kind]);
      await add(`pair_${kind}`, ['local', kind]);
    }
  });

  after(async () => {
    await platform?.stop();
    await storages?.stop();
  });

  const proxy = (kind: Kind): FaultProxy => storages.proxies[kind];

  /** The checks every case ends with, on the backup `backupId` of `database`. */
  async function assertConsistent(database: string, backupId: string): Promise<void> {
    for (const p of Object.values(storages.proxies)) p.set({ kind: 'pass' });
    await assertRestoresIdentical(platform, { database, backupId, source }, `restored_${(restores += 1)}`);
    assert.deepEqual(await blobsWithUncommittedBlocks(storages), [], 'no blob is left with uncommitted blocks');
    await assertInAgreement(platform);
  }

  /** Backs up `only_<kind>` with `fault` set (or `during` run alongside); it must complete as one more backup. */
  async function completesOnce(kind: Kind, fault: Fault, during?: () => Promise<void>): Promise<string> {
    const database = `only_${kind}`;
    const before = (await platform.ops.listBackups(database)).length;
    proxy(kind).set(fault);
    const run = await platform.ops.startBackup(database);
    await during?.();
    const outcome = await run.result();
    assert.equal(outcome.status, 'complete');
    assert.equal((await platform.ops.listBackups(database)).length, before + 1, 'exactly one backup more');
    return outcome.backupId;
  }

  /** `kind` down for a whole backup of `pair_<kind>`: partial, the local copy restores, one notification. */
  async function partialWhenDown(kind: Kind): Promise<{ database: string; backupId: string }> {
    const database = `pair_${kind}`;
    proxy(kind).set({ kind: 'down' });
    const outcome = await (await platform.ops.startBackup(database)).result();
    assert.ok(proxy(kind).injected() > 0, `connections to ${kind} were refused`);
    assert.equal(outcome.status, 'partial');
    assert.deepEqual(
      outcome.copies.map((c) => [c.storageName, c.status]).sort(),
      [
        [kind, 'failed'],
        ['local', 'complete'],
      ].sort(),
    );
    const notices = (await platform.runtime.catalog.health.notifications()).filter(
      (n) => n.database === database && n.event === 'backup_partial',
    );
    assert.equal(notices.length, 1, 'one backup_partial notification is queued');
    await assertConsistent(database, outcome.backupId);
    return { database, backupId: outcome.backupId };
  }

  describe('Azure Blob (Azurite)', () => {
    it('connection resets mid-upload: the block stages are retried and the backup completes once', CASE, async () => {
      // More resets than the SDK's three tries of a request: the upload fails and the activity retries it.
      const backupId = await completesOnce('azure', { kind: 'reset', afterBytes: 1_000_000, times: 6 });
      assert.ok(proxy('azure').injected() > 0, `resets were injected (${proxy('azure').injected()})`);
      await assertConsistent('only_azure', backupId);
    });

    it('two seconds of latency on every packet: slower, and complete', CASE, async () => {
      const backupId = await completesOnce('azure', { kind: 'latency', ms: 2000 });
      await assertConsistent('only_azure', backupId);
    });

    it(
      'a stall longer than the idle timeout: the request times out, is retried, and the backup completes once',
      CASE,
      async () => {
        const backupId = await completesOnce('azure', { kind: 'stall', afterBytes: 1_000_000, times: 1 });
        assert.equal(proxy('azure').injected(), 1, 'the stall happened');
        await assertConsistent('only_azure', backupId);
      },
    );

    it(
      'down for a whole backup next to a local storage: partial, notified, the local copy restores',
      CASE,
      async () => {
        await partialWhenDown('azure');
      },
    );
  });

  describe('SFTP (sshd)', () => {
    it(
      'a connection reset mid-upload: the dump is retried and completes once, no partial looks complete',
      CASE,
      async () => {
        const backupId = await completesOnce('sftp', { kind: 'reset', afterBytes: 1_000_000, times: 1 });
        assert.equal(proxy('sftp').injected(), 1, 'the reset happened');
        await assertConsistent('only_sftp', backupId);
      },
    );

    it(
      'a stall longer than the idle timeout: the session is dropped, the dump retried, complete once',
      CASE,
      async () => {
        const backupId = await completesOnce('sftp', { kind: 'stall', afterBytes: 1_000_000, times: 1 });
        assert.equal(proxy('sftp').injected(), 1, 'the stall happened');
        await assertConsistent('only_sftp', backupId);
      },
    );

    it(
      'down for a whole backup next to a local storage: partial, notified, the local copy restores',
      CASE,
      async () => {
        const { backupId } = await partialWhenDown('sftp');
        await assertNoVisibleFileOf(storages.sftpDir, backupId);
      },
    );
  });

  describe('FTP (ftp-srv), faults on the control connection', () => {
    it('the control connection reset mid-upload: the dump is retried and completes once', CASE, async () => {
      const release = storages.ftp.holdUploads();
      let cut = 0;
      const backupId = await completesOnce('ftp', { kind: 'pass' }, async () => {
        // Uploads are held with their partial file open: cutting now is mid-transfer, whatever the timing.
        await waitFor(
          'an upload to the FTP server under way',
          async () => ((await filesBelow(storages.ftp.rootDir)).some((f) => isPartialName(f)) ? true : undefined),
          60_000,
          50,
        );
        cut = proxy('ftp').cut();
        release();
      });
      assert.ok(cut > 0, `control connections were cut (${cut})`);
      await assertConsistent('only_ftp', backupId);
    });

    it(
      'down for a whole backup next to a local storage: partial, notified, the local copy restores',
      CASE,
      async () => {
        const { backupId } = await partialWhenDown('ftp');
        await assertNoVisibleFileOf(`${storages.ftp.rootDir}/backups`, backupId);
      },
    );
  });
});
