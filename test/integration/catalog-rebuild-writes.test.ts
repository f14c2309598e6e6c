/**
 * The catalog writes of a rebuild (lib/catalog/rebuild/apply.ts) against a real, migrated catalog
 * PostgreSQL: thousands of segment rows and hundreds of backups go in by chunks, and the outcome is
 * that of writing group by group — a second run adds nothing, a complete segment replaces a partial
 * row, a segment two index batches hold is recorded once, and a group that fails (a row the
 * catalog's checks refuse, a backup id already recorded for another database) is listed with its
 * reason while every other group of its chunk is recorded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { BackupManifest } from '../../lib/backup/manifest.ts';
import { createCatalogPool } from '../../lib/catalog/catalog.ts';
import { migrate } from '../../lib/catalog/migrate.ts';
import { applyPlan } from '../../lib/catalog/rebuild/apply.ts';
import type { PlannedArchive, RebuildPlan, SegmentRow } from '../../lib/catalog/rebuild/plan.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { createDatabase, startTestCluster } from '../support/platform.ts';

const SYSID = '7399999999999999999';
const SEGMENT = 16 << 20;
const HSBK = { format: 'HSBK', version: 2, algorithm: 'AES-256-GCM', kdf: 'HKDF-SHA256' } as const;

function manifest(database: string, i: number): BackupManifest {
  const id = `20260101T${String(i).padStart(6, '0')}Z-${i.toString(16).padStart(6, '0')}`;
  return {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: id,
    database,
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: '2026-01-01T10:00:05.000Z',
    source: { host: 'db.internal', port: 5432, database, serverVersion: '17.2', sizeBytes: 1000 },
    tool: { name: 'pg_dump', version: '17.2', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
    snapshot: 's',
    dump: { sizeBytes: 60, sha256: 'b'.repeat(64) },
    object: { key: `${database}/${id}.dump.hsb`, sizeBytes: 100 + i, sha256: 'a'.repeat(64) },
    encryption: { ...HSBK, keyId: 'k1', chunkSize: 1 << 20, header: '' },
    tables: [{ schema: 'public', table: 't', rows: i }],
  };
}

function row(segno: number, complete = true, bytes = SEGMENT): SegmentRow {
  const start = BigInt(segno) * BigInt(SEGMENT);
  return {
    timeline: 1,
    segno: BigInt(segno),
    name: `00000001000000000000${segno.toString(16).toUpperCase().padStart(4, '0')}`,
    startLsn: start,
    endLsn: start + BigInt(bytes),
    complete,
    sizeBytes: bytes,
    storedBytes: 100,
    sha256: (complete ? 'c' : 'd').repeat(64),
    objectKey: `pitr/${SYSID}/wal/${segno}${complete ? '' : '.partial'}`,
    receivedAt: new Date('2026-01-01T10:00:00.000Z'),
  };
}

/** Index batches of 60 over segments 1..count. */
const batchesOf = (count: number): SegmentRow[][] =>
  Array.from({ length: Math.ceil(count / 60) }, (_, b) =>
    Array.from({ length: Math.min(60, count - b * 60) }, (_, i) => row(b * 60 + i + 1)),
  );

function archive(segmentGroups: SegmentRow[][]): PlannedArchive {
  return {
    database: 'ledger',
    systemIdentifier: SYSID,
    walSegmentSizeBytes: SEGMENT,
    baseBackups: [],
    segmentGroups,
    histories: [],
    fromIndex: 0,
    byReading: 0,
  };
}

const database = (name: string) => ({ name, host: 'db.internal', port: 5432, dbname: name, connectionKnown: true });

/** 700 backups of two databases, 70 index batches, and a partial of a segment a batch holds complete. */
function manyRows(): RebuildPlan {
  return {
    databases: ['shop', 'crm', 'ledger'].map(database),
    backups: Array.from({ length: 700 }, (_, i) => manifest(i % 2 ? 'shop' : 'crm', i)),
    // Read after the batches, the partial changes nothing.
    archives: [archive([...batchesOf(4200), [row(4200, false, 4096)]])],
    unreadable: [],
  };
}

/** A segment's partial then the segment, one segment in two batches, and a group the catalog refuses. */
const broken = [row(5001), { ...row(5002), endLsn: row(5002).startLsn }];
function mixedGroups(): RebuildPlan {
  const groups = [[row(5000, false, 4096)], [row(5000), row(5003)], [row(5003), row(5004)], broken];
  // One group holding a segment's partial and then the segment: as row by row, both count.
  groups.push([row(6000, false, 4096), row(6000)]);
  return { databases: [], backups: [], archives: [archive(groups)], unreadable: [] };
}

/** Backup 1's id, claimed by a backup of another database; and two new backups. */
const taken = { ...manifest('shop', 1), database: 'crm', object: { ...manifest('shop', 1).object, key: 'crm/x' } };
const fresh = [manifest('shop', 9001), manifest('crm', 9002)];

describe('the writes of a catalog rebuild, by chunks, into a real catalog', () => {
  let dir: string;
  let cluster: LocalCluster;
  let pool: pg.Pool;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rebuild-writes-'));
    await chmod(dir, 0o755);
    cluster = await startTestCluster(dir);
    pool = createCatalogPool(await createDatabase(cluster, 'catalog'));
    await migrate(pool);
    await pool.query(`insert into storages (name, type, config, workspace_id) values ('bucket', 'local', $1, 1)`, [
      JSON.stringify({ type: 'local', path: dir }),
    ]);
  });
  const count = async (sql: string) => (await pool.query<{ n: number }>(sql)).rows[0]!.n;
  after(async () => {
    await pool?.end();
    await cluster?.stop('immediate');
    await rm(dir, { recursive: true, force: true });
  });

  it('records 700 backups and 4,200 segments, then nothing on a second run', async () => {
    const plan = manyRows();
    const first = await applyPlan(pool, plan, 'bucket');
    assert.deepEqual(first.unreadable, []);
    assert.deepEqual([first.backups.added, first.copies.added, first.walSegments.added], [700, 700, 4200]);
    assert.equal(first.walSegments.found, 4201);
    assert.equal(await count('select count(*)::int as n from wal_segments where complete'), 4200);
    assert.equal(
      await count("select count(*)::int as n from backups where trigger = 'rebuilt' and workflow_id = 'rebuilt/shop'"),
      350,
    );
    const again = await applyPlan(pool, { ...plan, databases: [] }, 'bucket');
    assert.equal(again.changed, false);
    assert.deepEqual([again.backups.found, again.walSegments.found], [700, 4201]);
  });

  it('completes a partial row, records a segment two batches hold once, and names only the group that fails', async () => {
    const report = await applyPlan(pool, mixedGroups(), 'bucket');
    assert.deepEqual(
      report.unreadable.map((u) => u.key),
      [broken[0]!.objectKey],
    );
    assert.match(report.unreadable[0]!.reason, /^not recorded: .*check constraint/);
    // 5000 partial, then completed; 5003 once; 5004; 6000 partial, then completed.
    assert.equal(report.walSegments.added, 6);
    const rows = await pool.query<{ segno: string; complete: boolean }>(
      'select segno, complete from wal_segments where segno between 5000 and 6000 order by segno',
    );
    assert.deepEqual(
      rows.rows.map((r) => [Number(r.segno), r.complete]),
      [
        [5000, true],
        [5003, true],
        [5004, true],
        [6000, true],
      ],
    );
  });

  it('refuses a backup id recorded for another database, and records the rest of its chunk', async () => {
    const report = await applyPlan(
      pool,
      { databases: [], backups: [fresh[0]!, taken, fresh[1]!], archives: [], unreadable: [] },
      'bucket',
    );
    assert.deepEqual(report.unreadable, [
      {
        key: 'crm/x',
        reason: `not recorded: backup ${taken.backupId} is already recorded as another backup (other database or checksum)`,
      },
    ]);
    assert.deepEqual([report.backups.added, report.copies.added], [2, 2]);
  });
});
