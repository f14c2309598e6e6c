import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createStorageDriver } from '../../lib/storage/index.ts';
import { formatLsn, parseLsn, segmentStartLsn } from '../../lib/wal/lsn.ts';
import { decodeWalObject, openDecoded } from '../../lib/wal/segment-codec.ts';
import { systemActor } from '../../services/authz.ts';
import { pitrOps, type PitrOps } from '../support/actor-ops.ts';
import { createLogger } from '../../lib/logger.ts';
import { createHindsightWorker } from '../../worker/create-worker.ts';
import { baseBackupProgressQuery, walStatusQuery } from '../../temporal/contracts/pitr.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import {
  checkReferenceDecryptorOnEveryPitrObject,
  checkWalIndexCoversCatalog,
} from '../support/pitr-archive-objects.ts';
import { extractReferenceDecryptor, pythonWithCryptography } from '../support/reference-decryptor.ts';
import { waitFor } from '../support/wait.ts';
import { startWriter } from '../support/wal-writer.ts';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('WAL archive: streaming, restarts, partial shipping, slot bloat, base backups', () => {
  let platform: Platform;
  let source: LocalCluster;
  let target: PgTarget;
  let pitr: PitrOps;
  let admin: pg.Client;

  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    const client = await connect('test', target);
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const currentLsn = async () => parseLsn((await query<{ l: string }>('select pg_current_wal_lsn()::text as l'))[0]!.l);
  const switchWal = async () => query('select pg_switch_wal()');
  const wal = () => platform.runtime.catalog.wal;

  before(async () => {
    platform = await startPlatform();
    const dir = path.join(platform.dir, 'source');
    await mkdir(dir, { recursive: true });
    source = await startTestCluster(dir);
    target = await createDatabase(source, 'shop');
    admin = await connect('admin', target);
    await admin.query('create table events (id bigserial primary key, at timestamptz not null, payload text)');
    // Keep every segment in pg_wal so that the archive can be compared with the server's own files.
    await admin.query(`alter system set wal_keep_size = '2GB'`);
    await admin.query('select pg_reload_conf()');
    await admin.end();
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(target), verifyAfterBackup: false });
    pitr = pitrOps(platform.services, systemActor);
  });

  after(async () => {
    await source?.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  it('refuses a server without the REPLICATION right, naming the fix', async () => {
    const client = await connect('admin', target);
    try {
      await client.query(`create role plain login password 'pw'`);
    } finally {
      await client.end();
    }
    await platform.ops.addDatabase({
      name: 'plain',
      url: targetUrl({ ...target, user: 'plain', password: 'pw' }),
      verifyAfterBackup: false,
    });
    await assert.rejects(pitr.enable('plain'), /REPLICATION.*ALTER ROLE/);
  });

  it('streams WAL into storage and ships the partial segment after each commit, long before the segment fills', async () => {
    await pitr.enable('shop', { firstBaseBackup: false });
    await waitFor(
      'the archiver to stream',
      async () => ((await wal().latestDurable('shop')) ? true : undefined),
      30_000,
    );
    // A single-row commit fills a fraction of a 16 MiB segment: durable in storage means the partial
    // segment was shipped. How soon is measured by bench/pitr-vs-pgbackrest.ts (RPO), not asserted here.
    for (let i = 0; i < 3; i++) {
      await query(`insert into events (at, payload) values (now(), 'marker ${i}')`);
      const lsn = await currentLsn();
      await waitFor(
        'the commit to be durable in storage',
        async () => {
          const durable = await wal().latestDurable('shop');
          return durable && durable.lsn >= lsn ? true : undefined;
        },
        10_000,
        50,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
    }

    // The partial in storage is exactly the server's bytes of that segment, up to the recorded end.
    const config = await wal().config('shop');
    const segments = await wal().segmentsOf('shop');
    const partial = segments.find((s) => !s.complete);
    assert.ok(partial, `a partial segment is recorded: ${JSON.stringify(segments.map((s) => [s.name, s.complete]))}`);
    const driver = createStorageDriver('local', await platform.runtime.catalog.storageConfig('local'));
    const out = path.join(platform.dir, 'partial.out');
    await decodeWalObject({
      driver,
      objectKey: partial.objectKey,
      key: platform.runtime.key,
      destination: out,
      expectedSha256: partial.sha256,
    });
    const decoded = await readFile(out);
    const onServer = await readFile(path.join(source.dataDir, 'pg_wal', partial.name));
    assert.equal(decoded.length, Number(partial.endLsn - partial.startLsn));
    assert.ok(decoded.equals(onServer.subarray(0, decoded.length)), 'partial bytes equal the server file prefix');
    // Padded on request to a whole segment, as recovery wants it.
    await decodeWalObject({
      driver,
      objectKey: partial.objectKey,
      key: platform.runtime.key,
      destination: out,
      padToSize: config.walSegmentSize!,
    });
    assert.equal((await stat(out)).size, config.walSegmentSize);
    assert.match(config.systemIdentifier ?? '', /^\d+$/);
  });

  it('keeps the chain contiguous across a PostgreSQL restart, each segment equal to the server file byte for byte', async () => {
    const writer = startWriter(target);
    const first = (await wal().segmentsOf('shop'))[0]!;
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await switchWal();
    }
    const beforeRestart = await currentLsn();
    await source.stop('fast');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await source.start();
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await switchWal().catch(() => undefined);
    }
    const { rows, errors } = await writer.stop();
    assert.ok(rows > 20, `writer inserted ${rows} rows (${errors} errors while the server restarted)`);
    await switchWal();
    const last = await currentLsn();
    const config = await wal().config('shop');
    const size = config.walSegmentSize!;
    // Everything before the current segment must become complete in storage.
    await waitFor(
      'every switched segment to be archived',
      async () => {
        const complete = (await wal().segmentsOf('shop')).filter((s) => s.complete);
        return complete.some((s) => s.endLsn >= last - (last % BigInt(size))) ? true : undefined;
      },
      30_000,
      200,
    );

    const segments = (await wal().segmentsOf('shop', { timeline: 1 })).filter((s) => s.segno >= first.segno);
    const complete = segments.filter((s) => s.complete);
    for (let i = 1; i < complete.length; i++) {
      assert.equal(
        complete[i]!.segno,
        complete[i - 1]!.segno + 1n,
        `no gap between ${complete[i - 1]!.name} and ${complete[i]!.name}`,
      );
      assert.equal(complete[i]!.startLsn, complete[i - 1]!.endLsn);
    }
    // pg_switch_wal is a no-op when nothing was written since the last switch, so count the span, not the switches.
    assert.ok(complete.length >= 5, `${complete.length} complete segments`);
    assert.ok(
      complete[0]!.startLsn <= beforeRestart && complete.at(-1)!.endLsn > beforeRestart + BigInt(size),
      `the contiguous run ${complete[0]!.name}…${complete.at(-1)!.name} spans the restart at ${formatLsn(beforeRestart)} and the segments after it`,
    );

    const driver = createStorageDriver('local', await platform.runtime.catalog.storageConfig('local'));
    let compared = 0;
    for (const segment of complete) {
      const onServer = await readFile(path.join(source.dataDir, 'pg_wal', segment.name)).catch(() => undefined);
      if (!onServer) continue;
      const out = path.join(platform.dir, `${segment.name}.out`);
      await decodeWalObject({
        driver,
        objectKey: segment.objectKey,
        key: platform.runtime.key,
        destination: out,
        expectedSha256: segment.sha256,
      });
      const decoded = await readFile(out);
      assert.equal(decoded.length, size);
      assert.ok(decoded.equals(onServer), `segment ${segment.name} from storage equals pg_wal/${segment.name}`);
      assert.equal(sha256(onServer), segment.sha256);
      assert.equal(segmentStartLsn(segment.segno, size), segment.startLsn);
      compared += 1;
    }
    assert.equal(compared, complete.length, 'every archived segment was still in pg_wal (wal_keep_size) and compared');

    const status = await waitFor(
      'the archiver to report streaming again',
      async () => {
        const s = await platform.client.workflow.getHandle('wal/shop').query(walStatusQuery);
        return s.state === 'streaming' ? s : undefined;
      },
      10_000,
    );
    assert.ok(
      (status.receiver?.receiverStarts ?? 0) >= 2,
      `pg_receivewal restarted after the server did (${status.receiver?.receiverStarts} starts)`,
    );
  });

  it('queues a slot bloat alert when the slot retains more than the limit', async () => {
    await wal().updateSettings('shop', { slotMaxBytes: 1 });
    const alert = await waitFor(
      'a wal_slot_bloat notification',
      async () => {
        // A burst of WAL: the slot lags behind it for a moment, far more than one byte.
        await query(`insert into events (at, payload) select now(), repeat('x', 200) from generate_series(1, 20000)`);
        const events = await platform.runtime.catalog.health.notifications('shop');
        return events.find((e) => e.event === 'wal_slot_bloat');
      },
      30_000,
      500,
    );
    assert.match(alert.message, /replication slot "hindsight_shop" retains .* over the 0\.0 MiB limit/);
    assert.match(alert.message, /max_slot_wal_keep_size/);
    await wal().updateSettings('shop', { slotMaxBytes: null });
  });

  it('takes a base backup streamed to storage with its LSNs; the object is a tar with backup_manifest and PG_VERSION', async () => {
    const started = await pitr.startBaseBackup('shop');
    const result = await started.result();
    assert.equal(result.stage, 'complete');
    const record = await wal().getBaseBackup(started.baseBackupId);
    assert.equal(record.status, 'complete');
    assert.equal(record.timeline, 1);
    assert.ok(
      record.startLsn! > 0n && record.stopLsn! >= record.startLsn!,
      `${formatLsn(record.startLsn!)} – ${formatLsn(record.stopLsn!)}`,
    );
    assert.ok(record.stopTime! >= record.startTime);
    assert.equal(record.source, 'primary');
    assert.match(record.objectKey, /^pitr\/\d+\/base\/\d{8}T\d{6}Z-[0-9a-f]{6}\.tar\.zst\.hsb$/);

    const driver = createStorageDriver('local', await platform.runtime.catalog.storageConfig('local'));
    const { stream, done } = await openDecoded({ driver, objectKey: record.objectKey, key: platform.runtime.key });
    const tar = spawn('tar', ['-tf', '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let listing = '';
    tar.stdout.setEncoding('utf8').on('data', (d: string) => {
      listing += d;
    });
    stream.pipe(tar.stdin);
    const [decoded] = await Promise.all([done, new Promise((resolve) => tar.on('close', resolve))]);
    const names = listing.split('\n');
    assert.ok(names.includes('backup_manifest'), 'the tar holds backup_manifest');
    assert.ok(names.includes('PG_VERSION'), 'the tar holds PG_VERSION');
    assert.ok(names.includes('backup_label'), 'the tar holds backup_label');
    assert.equal(decoded.rawSha256, record.sha256);
    assert.equal(decoded.storedBytes, record.storedBytes);
    assert.ok(record.storedBytes! < record.sizeBytes!, `compressed ${record.sizeBytes} → ${record.storedBytes}`);

    // The WAL the backup needs reaches the archive: its stop position becomes durable.
    await waitFor(
      'the stop LSN to be archived',
      async () => ((await wal().latestDurable('shop'))!.lsn >= record.stopLsn! ? true : undefined),
      10_000,
      100,
    );
  });

  it("runs host-bound work of a database with an agent only on that agent's queue", async () => {
    await wal().updateSettings('shop', { agent: 'db1' });
    const started = await pitr.startBaseBackup('shop');
    // The main worker polls only the main queues: nothing takes the activity yet.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const waiting = await platform.client.workflow.getHandle(started.workflowId).query(baseBackupProgressQuery);
    assert.equal(waiting.stage, 'streaming');
    await assert.rejects(wal().getBaseBackup(started.baseBackupId), /does not exist/);
    const agent = await createHindsightWorker(platform.runtime, createLogger('agent-db1'), {
      roles: { main: false, verify: false, agent: 'db1' },
    });
    const running = agent.run();
    try {
      const result = await started.result();
      assert.equal(result.stage, 'complete');
      assert.equal((await wal().getBaseBackup(started.baseBackupId)).status, 'complete');
    } finally {
      agent.shutdown();
      await running;
      await agent.close();
      await wal().updateSettings('shop', { agent: null });
    }
  });

  it('refuses a second server for the same archive instead of overwriting it', async () => {
    const config = await wal().config('shop');
    await assert.rejects(
      wal().recordServerIdentity('shop', '1234567890', config.walSegmentSize!),
      /system identifier 1234567890.*refusing/,
    );
    const complete = (await wal().segmentsOf('shop')).find((s) => s.complete)!;
    await assert.rejects(
      wal().recordSegment({ ...complete, sha256: 'f'.repeat(64) }),
      /already archived with different content/,
    );
    // The same bytes again (a retried upload) are accepted.
    await wal().recordSegment({ ...complete });
  });

  it('joins a second database of the same cluster to the archive of the first (WAL is per cluster)', async () => {
    const other = await createDatabase(source, 'shop_reports');
    await platform.ops.addDatabase({ name: 'reports', url: targetUrl(other), verifyAfterBackup: false });
    const joined = await pitr.enable('reports', { firstBaseBackup: false });
    assert.deepEqual([joined.sharesArchiveOf, joined.baseBackup], ['shop', null]);
    assert.equal((await query(`select from pg_replication_slots where slot_name = 'hindsight_reports'`)).length, 0);
    await assert.rejects(pitr.disable('shop'), /"reports" also restores from/);
    assert.equal((await pitr.disable('reports')).leftArchiveOf, 'shop');
  });

  it('stops on request, ships what it has, and drops the slot', async () => {
    const result = await pitr.disable('shop');
    assert.equal(result.archiver?.state, 'stopped');
    assert.equal(result.slotDropped, true);
    const slots = await query<{ n: string }>(
      `select count(*)::text as n from pg_replication_slots where slot_name = 'hindsight_shop'`,
    );
    assert.equal(slots[0]!.n, '0');
  });

  it('leaves an archive readable from storage and the key alone, by the documented decryptor too', async (t) => {
    const driver = createStorageDriver('local', await platform.runtime.catalog.storageConfig('local'));
    const archive = { database: 'shop', wal: wal(), driver, key: platform.runtime.key, dataDir: source.dataDir };
    const batches = await checkWalIndexCoversCatalog({ ...archive, dir: platform.dir });
    const python = await pythonWithCryptography();
    if (!python) {
      t.skip('no Python with the cryptography package (neither .venv/bin/python nor python3 has it)');
      return;
    }
    const dir = await mkdtemp(path.join(platform.dir, 'objects-'));
    const script = await extractReferenceDecryptor(dir);
    const decryptor = { python, script, keyFile: platform.config.secretKeyFile };
    await checkReferenceDecryptorOnEveryPitrObject({ ...archive, dir }, decryptor, batches);
  });

  it('continues as new between activity runs without a gap', async () => {
    await pitr.enable('shop', { firstBaseBackup: false, archiverRunForMs: 2000 });
    const from = await currentLsn();
    const writer = startWriter(target);
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await switchWal();
    }
    await writer.stop();
    const last = await currentLsn();
    const size = (await wal().config('shop')).walSegmentSize!;
    const status = await waitFor(
      'two runs and the last switched segment archived',
      async () => {
        const s = await platform.client.workflow.getHandle('wal/shop').query(walStatusQuery);
        const complete = (await wal().segmentsOf('shop')).filter((x) => x.complete && x.endLsn > from);
        return s.runs >= 2 && complete.some((x) => x.endLsn >= last - (last % BigInt(size))) ? s : undefined;
      },
      30_000,
      250,
    );
    const complete = (await wal().segmentsOf('shop')).filter((x) => x.complete && x.endLsn > from);
    for (let i = 1; i < complete.length; i++)
      assert.equal(complete[i]!.segno, complete[i - 1]!.segno + 1n, `no gap before ${complete[i]!.name}`);
    assert.ok(complete.length >= 5, `${complete.length} complete segments over ${status.runs} runs`);
    await pitr.disable('shop');
  });
});
