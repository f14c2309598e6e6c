import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { assertInAgreement, assertRestoresIdentical, saveProxiedS3 } from '../support/fault-checks.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.ts';
import { createFilledDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { multipartUploads, newBucket, rawClient } from '../support/s3-moto-helpers.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

/**
 * Backups to S3 (moto) through a proxy that injects network and server faults. Each case ends with
 * the same checks: the backup the run reports restores identical to its source, no multipart
 * upload is left in the bucket, and `doctor --deep` finds the catalog, Temporal and both storages in
 * agreement (so no object looks complete unless its backup is). Each transient fault must also
 * have happened (the proxy counts it): a case it never reached would prove nothing.
 */

/** About 3 MiB of dump, 1.5 MiB stored: large enough that a fault lands mid-upload. */
const LEDGER = `create table ledger (id int primary key, account text not null, memo text not null, amount numeric(12,2) not null);
  insert into ledger select g, 'acct-' || (g % 997), md5(g::text) || ' ' || repeat(chr(97 + g % 26), g % 40), (g % 100000) / 100.0
  from generate_series(1, 40000) g;`;

interface FaultCase {
  name: string;
  fault: Fault;
}

/** Transient faults: the backup of `shop` (S3 alone) must complete exactly once despite each. */
const TRANSIENT: FaultCase[] = [
  { name: 'a connection reset mid-upload', fault: { kind: 'reset', afterBytes: 400_000, times: 1 } },
  { name: 'two seconds of latency on every packet', fault: { kind: 'latency', ms: 2000 } },
  { name: 'bandwidth limited to 1 MiB/s', fault: { kind: 'bandwidth', bytesPerSecond: 1 << 20 } },
  { name: 'the first requests answered 503 Slow Down', fault: { kind: 'http-status', status: 503, times: 4 } },
  { name: 'the first requests answered 500', fault: { kind: 'http-status', status: 500, times: 2 } },
  {
    name: 'a stall with no bytes either way, longer than the heartbeat timeout',
    fault: { kind: 'stall', afterBytes: 400_000, times: 1 },
  },
];

describe('storage faults: a backup through resets, latency, throttling, 5xx answers, stalls and an outage', () => {
  let platform: Platform;
  let moto: MotoServer;
  let proxy: FaultProxy;
  let bucket: string;
  const sources: Record<string, PgTarget> = {};
  let restores = 0;

  before(async () => {
    [platform, moto] = await Promise.all([startPlatform(), startMoto()]);
    proxy = await startFaultProxy({ host: '127.0.0.1', port: moto.port });
    bucket = await newBucket(rawClient(moto), 'faults');
    await saveProxiedS3(platform, 'flaky', moto, proxy, bucket);
    for (const name of ['shop', 'pair']) sources[name] = await createFilledDatabase(platform.cluster, name, LEDGER);
    await platform.startWorker();
    const add = (name: string, storages: string[]) =>
      platform.ops.addDatabase({ name, url: targetUrl(sources[name]!), storages, verifyAfterBackup: false });
    await add('shop', ['flaky']);
    await add('pair', ['local', 'flaky']);
  });

  after(async () => {
    await platform?.stop();
    await proxy?.stop();
    await moto?.stop();
  });

  /** The three checks every case ends with. */
  async function assertConsistent(database: string, backupId: string): Promise<void> {
    proxy.set({ kind: 'pass' });
    await assertRestoresIdentical(
      platform,
      { database, backupId, source: sources[database]! },
      `restored_${(restores += 1)}`,
    );
    assert.deepEqual(await multipartUploads(rawClient(moto), bucket), [], 'no multipart upload is left behind');
    await assertInAgreement(platform);
  }

  for (const { name, fault } of TRANSIENT) {
    it(`${name}: the backup completes once, with retries, and restores`, { timeout: 5 * 60_000 }, async () => {
      proxy.set(fault);
      const before = (await platform.ops.listBackups('shop')).length;
      const outcome = await (await platform.ops.startBackup('shop')).result();
      const injected = proxy.injected();
      assert.equal(outcome.status, 'complete');
      assert.ok(
        fault.kind === 'latency' || fault.kind === 'bandwidth' || injected > 0,
        `the fault was injected (${injected})`,
      );
      assert.equal((await platform.ops.listBackups('shop')).length, before + 1, 'exactly one backup more');
      await assertConsistent('shop', outcome.backupId);
    });
  }

  it('S3 down for the whole backup of a database kept in two storages: partial, notified, and the local copy restores', async () => {
    proxy.set({ kind: 'down' });
    const outcome = await (await platform.ops.startBackup('pair')).result();
    assert.equal(outcome.status, 'partial');
    assert.deepEqual(outcome.copies.map((c) => [c.storageName, c.status]).sort(), [
      ['flaky', 'failed'],
      ['local', 'complete'],
    ]);
    const notices = (await platform.runtime.catalog.health.notifications()).filter(
      (n) => n.database === 'pair' && n.event === 'backup_partial',
    );
    assert.equal(notices.length, 1, 'one backup_partial notification is queued');
    await assertConsistent('pair', outcome.backupId);
  });
});
