import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainQuery, type ChainMonitorState, type WalChainMonitorInput } from '../../temporal/pitr.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import {
  enablePitr, restore, restoredRows, rfc3339Plus2, startPitrSource, stopArchiver, stopRestoredServer, takeBaseBackup, waitUntilArchived, writeRows,
  type PitrSource, type Row,
} from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';

const failureMessage = (error: unknown): string => String((error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message);

/**
 * A segment deleted from storage behind the catalog's back: the chain monitor finds it by looking
 * at storage, reports the gap with its LSN range, notifies once and starts a base backup by
 * itself; a time inside the gap cannot be restored, a time after the new base backup can.
 */
describe('WAL chain: a segment deleted from storage', () => {
  let platform: Platform;
  let source: PitrSource;
  let inGap: Row[] = [];
  let deletedSegment = '';
  const started: string[] = [];

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, 'ledger');
    await platform.startWorker();
    await enablePitr(platform, source);
    await takeBaseBackup(platform, 'ledger', 'first');
    await writeRows(source, 1500, 100, 'before');
    await source.query('select pg_switch_wal()');
    // These rows go to one segment, which is then deleted.
    const [current] = await source.query<{ name: string }>('select pg_walfile_name(pg_current_wal_insert_lsn()) as name');
    deletedSegment = current!.name;
    inGap = await writeRows(source, 4000, 100, 'in the gap');
    await source.query('select pg_switch_wal()');
    await writeRows(source, 1000, 100, 'after');
    await waitUntilArchived(platform, source);
    const segment = (await platform.runtime.catalog.wal.segmentsOf('ledger')).find((s) => s.name === deletedSegment);
    assert.ok(segment?.complete, `segment ${deletedSegment} is archived complete`);
    await rm(path.join(platform.backupsDir, segment.objectKey));
  });

  after(async () => {
    for (const dir of started) await stopRestoredServer(dir);
    await platform?.client.workflow.getHandle('walchain/ledger').terminate('test over').catch(() => undefined);
    if (platform) await stopArchiver(platform, 'ledger');
    await source?.cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  it('the monitor reports the gap with its LSN range, notifies once and starts a base backup', async () => {
    const args: WalChainMonitorInput = { database: 'ledger', intervalSeconds: 1 };
    await platform.client.workflow.start('walChainMonitor', { taskQueue: platform.config.taskQueue, workflowId: 'walchain/ledger', args: [args] });
    const state: ChainMonitorState = await waitFor('the gap', async () => {
      const s = await platform.client.workflow.getHandle('walchain/ledger').query(chainQuery);
      return s.last && s.last.gaps.length > 0 && s.baseBackupsStarted.length > 0 ? s : undefined;
    }, 30_000, 500);
    const gap = state.last!.gaps[0]!;
    assert.deepEqual(gap.missing, [deletedSegment]);
    assert.deepEqual(gap.notInStorage, [deletedSegment]);
    // 16 MiB segments: the gap covers exactly the deleted segment's bytes.
    const segno = BigInt(`0x${deletedSegment.slice(8, 16)}`) * 256n + BigInt(`0x${deletedSegment.slice(16)}`);
    const lsn = (n: bigint) => `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
    assert.equal(gap.fromLsn, lsn(segno * 16n * 1024n * 1024n));
    assert.equal(gap.toLsn, lsn((segno + 1n) * 16n * 1024n * 1024n));
    assert.match(gap.text, new RegExp(`timeline 1 from ${gap.fromLsn} to ${gap.toLsn}: 1 segment\\(s\\) missing \\(${deletedSegment}\\)`));

    const notified = (await platform.runtime.catalog.health.notifications('ledger')).filter((n) => n.event === 'wal_chain_broken');
    assert.equal(notified.length, 1);
    assert.match(notified[0]!.message, new RegExp(`WAL chain of database "ledger" is broken: timeline 1 from ${gap.fromLsn}`));
    assert.match(state.baseBackupsStarted[0]!.reason, /^gap: /);

    const result = await platform.client.workflow.getHandle(state.baseBackupsStarted[0]!.workflowId).result();
    assert.equal((result as { stage: string }).stage, 'complete');
    // Later rounds: the same gap is not notified again, and no second base backup is started for it.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await platform.client.workflow.getHandle('walchain/ledger').query(chainQuery);
    assert.equal(later.baseBackupsStarted.length, 1);
    assert.equal((await platform.runtime.catalog.health.notifications('ledger')).filter((n) => n.event === 'wal_chain_broken').length, 1);
    assert.ok(later.last!.windows.length >= 2, 'a window starts at the new base backup');
  });

  it('a time inside the gap fails at once with a message naming the windows', async () => {
    const t = inGap[Math.floor(inGap.length / 2)]!.at;
    await assert.rejects(
      restore(platform, { database: 'ledger', target: { time: rfc3339Plus2(t) }, to: { directory: path.join(platform.dir, 'gap') } }, 'in-gap'),
      (error: unknown) => {
        const message = failureMessage(error);
        assert.match(message, /is outside every recoverable window of database "ledger"; choose a target inside one of these windows \(UTC\): timeline 1: /);
        assert.match(message, /Gaps in the archive: 1/);
        return true;
      },
    );
  });

  it('a time after the new base backup restores', async () => {
    const rows = await writeRows(source, 2500, 100, 'after the new base backup');
    await waitUntilArchived(platform, source);
    const k = Math.floor(rows.length / 2);
    const t = new Date((rows[k - 1]!.at.getTime() + rows[k]!.at.getTime()) / 2);
    const dir = path.join(platform.dir, 'after-gap');
    const outcome = await restore(platform, { database: 'ledger', target: { time: rfc3339Plus2(t) }, to: { directory: dir } }, 'after-gap');
    started.push(dir);
    const restored = await restoredRows(source, outcome.port!);
    const ids = new Set(restored.map((r) => r.id));
    assert.ok(ids.has(rows[k - 1]!.id));
    assert.ok(!ids.has(rows[k]!.id));
    assert.ok(inGap.every((r) => ids.has(r.id)), 'the rows written in the gap are in the new base backup');
  });
});
