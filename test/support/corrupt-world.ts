/**
 * Real objects of every kind Hindsight stores, written by Hindsight's own writers into one local
 * storage, two of each kind (so that one can be swapped for the other): logical backups (single
 * stream and parallel -Fd tar) with their manifests, base backups with their backup_manifest
 * objects and sealed records, WAL segments, partial segments, timeline histories, WAL index
 * batches, and backups of a catalog with their manifests. One throwaway PostgreSQL serves them all.
 */
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { streamDumpToStorage } from '../../lib/backup/dump.ts';
import type { RecordedChecksums } from '../../lib/backup/expectation.ts';
import { readManifest } from '../../lib/backup/sources.ts';
import { schemaVersion } from '../../lib/catalog-backup/catalog-queries.ts';
import { catalogManifestKey, catalogObjectKey } from '../../lib/catalog-backup/layout.ts';
import { hindsightVersion } from '../../lib/catalog-backup/version.ts';
import { writeCatalogBackup } from '../../lib/catalog-backup/write.ts';
import { openCatalog, type Catalog } from '../../lib/catalog/catalog.ts';
import { openKeyring } from '../../lib/crypto/keyring.ts';
import { generateSecretKey, writeNewKeyFile, type SecretKey } from '../../lib/crypto/secret-key.ts';
import { openLocalCluster, type LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { baseBackupKey, baseManifestKey, historyKey, partialKey, segmentKey } from '../../lib/wal/archive-keys.ts';
import { walIndexKey, writeRecord, type WalIndex } from '../../lib/wal/archive-records.ts';
import { streamBaseBackupToStorage } from '../../lib/wal/base-backup.ts';
import { writeBaseBackupRecord } from '../../lib/wal/base-backup-record.ts';
import { formatLsn, parseSegmentName, segmentStartLsn } from '../../lib/wal/lsn.ts';
import { encodeWalFile } from '../../lib/wal/segment-codec.ts';
import { createDatabase, createFilledDatabase } from './platform.ts';
import { freePort } from './ports.ts';

export const DATABASE = 'shop';
const SEGMENT_SIZE = 16 * 1024 * 1024;

/** A WAL object as restore_command asks for it, with what the catalog records of it. */
export interface WalEntry {
  file: string;
  objectKey: string;
  kind: 'segment' | 'partial' | 'history';
  /** SHA-256 of the decoded bytes (complete segments: the catalog's record). */
  sha256?: string;
}

export interface CorruptWorld {
  dir: string;
  cluster: LocalCluster;
  key: SecretKey;
  /** A key that encrypted none of the objects. */
  otherKey: SecretKey;
  driver: StorageDriver;
  segmentSize: number;
  /** Backup ids of the logical backups: two single-stream, two parallel (-Fd tar). */
  logical: { custom: [string, string]; directory: [string, string] };
  /** The checksums of each logical backup as the catalog recorded them when it was taken. */
  recorded: Map<string, RecordedChecksums>;
  base: Array<{ id: string; objectKey: string; manifestKey: string; recordKey: string; sha256: string }>;
  segments: WalEntry[];
  partials: WalEntry[];
  histories: WalEntry[];
  indexBatches: string[];
  /** The catalog the catalog backups are of, the empty one they are restored into, and their ids. */
  catalog: { source: Catalog; target: Catalog; targetDb: PgTarget; ids: [string, string] };
  /** A new empty restore target database on the cluster, for one restore. */
  newTarget(): PgTarget;
}

const SCHEMA = `create table items (id int primary key, name text not null, price numeric(10,2));
  insert into items select g, 'item ' || g, g * 1.5 from generate_series(1, 500) g;
  create table notes (id serial primary key, body text);
  insert into notes (body) select md5(g::text) from generate_series(1, 200) g;`;

/** An id in Hindsight's pattern, one second apart from its neighbours. */
const backupIdOf = (n: number) => `20261207T10${String(n).padStart(4, '0')}Z-${(0xc0ffe0 + n).toString(16)}`;

async function query<T>(target: PgTarget, text: string): Promise<T[]> {
  const client = await connect('corrupt-objects', target);
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

async function writeLogical(world: CorruptWorld, source: PgTarget): Promise<void> {
  const ids = [1, 2, 3, 4].map(backupIdOf);
  for (const [i, backupId] of ids.entries()) {
    await streamDumpToStorage({
      databaseName: DATABASE,
      backupId,
      target: source,
      destinations: [{ name: 'objects', driver: world.driver }],
      key: world.key,
      parallelJobs: i < 2 ? 1 : 2,
    });
    const manifest = await readManifest(world.driver, DATABASE, backupId);
    world.recorded.set(backupId, { objectSha256: manifest.object.sha256, dumpSha256: manifest.dump.sha256 });
  }
  world.logical = { custom: [ids[0]!, ids[1]!], directory: [ids[2]!, ids[3]!] };
}

async function writeBaseBackups(world: CorruptWorld, sysid: string): Promise<void> {
  const target = world.cluster.target('postgres');
  const [{ v }] = (await query<{ v: string }>(target, `select current_setting('server_version_num') as v`)) as [
    { v: string },
  ];
  for (const id of ['20261207T110000Z-base01', '20261207T110100Z-base02']) {
    const objectKey = baseBackupKey(sysid, id);
    const workDir = path.join(world.dir, 'work', id);
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const result = await streamBaseBackupToStorage({
      database: DATABASE,
      label: `hindsight ${id}`,
      target,
      driver: world.driver,
      objectKey,
      key: world.key,
      manifestKey: baseManifestKey(sysid, id),
      workDir,
    });
    const server = { systemIdentifier: sysid, versionNum: Number(v), walSegmentSize: SEGMENT_SIZE };
    const input = { database: DATABASE, baseBackupId: id, server, source: 'primary' as const, kind: 'full' as const };
    const recordKey = await writeBaseBackupRecord(world.driver, world.key, {
      ...input,
      parentId: null,
      objectKey,
      result,
    });
    world.base.push({ id, objectKey, manifestKey: baseManifestKey(sysid, id), recordKey, sha256: result.sha256 });
  }
}

/** Two complete segments, two partials, two histories and an index batch for each complete segment. */
async function writeWal(world: CorruptWorld, sysid: string): Promise<void> {
  const target = world.cluster.target('postgres');
  const [{ current }] = (await query<{ current: string }>(
    target,
    `select pg_walfile_name(pg_current_wal_lsn()) as current`,
  )) as [{ current: string }];
  const pgWal = path.join(world.cluster.dataDir, 'pg_wal');
  const done = (await readdir(pgWal)).filter((f) => /^[0-9A-F]{24}$/.test(f) && f < current).sort();
  const [first, second] = done.slice(-2) as [string, string];
  const { driver, key } = world;
  for (const name of [first, second]) {
    const objectKey = segmentKey(sysid, name);
    const stored = await encodeWalFile({ file: path.join(pgWal, name), driver, objectKey, key });
    world.segments.push({ file: name, objectKey, kind: 'segment', sha256: stored.rawSha256 });
    const { segno } = parseSegmentName(name, SEGMENT_SIZE);
    const index: WalIndex = {
      format: 'hindsight-wal-index',
      formatVersion: 1,
      database: DATABASE,
      systemIdentifier: sysid,
      timeline: 1,
      walSegmentSizeBytes: SEGMENT_SIZE,
      segments: [
        {
          name,
          startLsn: formatLsn(segmentStartLsn(segno, SEGMENT_SIZE)),
          endLsn: formatLsn(segmentStartLsn(segno + 1n, SEGMENT_SIZE)),
          sizeBytes: stored.rawBytes,
          sha256: stored.rawSha256,
          storedBytes: stored.storedBytes,
          objectKey,
          receivedAt: new Date().toISOString(),
        },
      ],
    };
    const indexKey = walIndexKey(sysid, 1, name, name);
    await writeRecord(driver, indexKey, index, key);
    world.indexBatches.push(indexKey);
  }
  // Partials of the segments after them: the beginning of a real segment file, as the receiver stores it.
  for (const [i, name] of done.slice(-4, -2).entries()) {
    const objectKey = partialKey(sysid, name);
    await encodeWalFile({ file: path.join(pgWal, name), validBytes: (i + 1) * 65536, driver, objectKey, key });
    world.partials.push({ file: name, objectKey, kind: 'partial' });
  }
  for (const timeline of [2, 3]) {
    const file = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const text = `${timeline - 1}\t0/${(timeline * 0x1000000).toString(16).toUpperCase()}\tno recovery target specified\n`;
    await writeFile(path.join(world.dir, file), text);
    const objectKey = historyKey(sysid, timeline);
    await encodeWalFile({ file: path.join(world.dir, file), driver, objectKey, key });
    world.histories.push({ file, objectKey, kind: 'history' });
  }
}

async function writeCatalogBackups(world: CorruptWorld): Promise<CorruptWorld['catalog']> {
  const keyFile = path.join(world.dir, 'data', 'secret.key');
  await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  await writeNewKeyFile(keyFile, world.key);
  const keys = openKeyring({ currentFile: keyFile, keysDir: path.join(world.dir, 'keys'), previousFiles: [] });
  const sourceDb = await createDatabase(world.cluster, 'hindsight');
  const source = await openCatalog(sourceDb, keys);
  await source.pool.query(`insert into storages (name, type, config) values ('objects', 'local', '{}')`);
  const ids: [string, string] = [backupIdOf(11), backupIdOf(12)];
  for (const backupId of ids)
    await writeCatalogBackup({
      backupId,
      target: sourceDb,
      destinations: [{ name: 'objects', driver: world.driver }],
      key: world.key,
      schemaVersion: (await schemaVersion(source.pool)) ?? 'none',
      hindsightVersion: hindsightVersion(),
    });
  const targetDb = await createDatabase(world.cluster, 'hindsight_restored');
  const target = await openCatalog(targetDb, keys);
  return { source, target, targetDb, ids };
}

export const catalogKeys = (id: string) => ({ object: catalogObjectKey(id), manifest: catalogManifestKey(id) });

/** Starts PostgreSQL in `dir` and writes every object; the caller stops the cluster and closes the catalogs. */
export async function buildCorruptWorld(dir: string): Promise<CorruptWorld> {
  // PostgreSQL runs as its own OS user when the tests run as root: it must reach the directory.
  await chmod(dir, 0o755);
  const cluster = await openLocalCluster({
    dataDir: path.join(dir, 'pg'),
    port: await freePort(),
    settings: { fsync: 'off', synchronous_commit: 'off', wal_keep_size: "'512MB'" },
  });
  await cluster.start();
  let restores = 0;
  const world: CorruptWorld = {
    dir,
    cluster,
    key: generateSecretKey(),
    otherKey: generateSecretKey(),
    driver: createLocalStorage({ name: 'objects', root: path.join(dir, 'storage') }),
    segmentSize: SEGMENT_SIZE,
    logical: { custom: ['', ''], directory: ['', ''] },
    recorded: new Map(),
    base: [],
    segments: [],
    partials: [],
    histories: [],
    indexBatches: [],
    catalog: undefined as unknown as CorruptWorld['catalog'],
    newTarget: () => cluster.target(`restored_${++restores}`),
  };
  const source = await createFilledDatabase(cluster, 'shop_src', SCHEMA);
  await writeLogical(world, source);
  const [{ sysid }] = (await query<{ sysid: string }>(
    cluster.target('postgres'),
    'select system_identifier::text as sysid from pg_control_system()',
  )) as [{ sysid: string }];
  await writeBaseBackups(world, sysid);
  await query(cluster.target('postgres'), 'select pg_switch_wal()');
  await query(cluster.target('postgres'), 'create table t as select 1 as x; select pg_switch_wal()');
  await query(cluster.target('postgres'), 'drop table t; select pg_switch_wal()');
  world.catalog = await writeCatalogBackups(world);
  await writeWal(world, sysid);
  return world;
}
