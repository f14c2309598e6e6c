/**
 * Puts a catalog backup from storage into an empty catalog: the manifest chosen, the object
 * authenticated as that backup and checked against the manifest's checksums while it streams
 * through pg_restore in one transaction, then the migrations newer than the backup applied.
 */
import { readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { ByteMeter } from '../backup/byte-meter.ts';
import { decryptOptionsFor, streamedChecksumFailure, type BackupExpectation } from '../backup/expectation.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { runPgRestore } from '../backup/restore.ts';
import { DecryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { catalogBackupIdentity } from '../crypto/object-identity.ts';
import { migrate } from '../catalog/migrate.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, describeTarget, serverInfo, type PgTarget } from '../pg/connection.ts';
import { archiveMajorOf } from '../pg/tools.ts';
import type { StorageDriver } from '../storage/contract.ts';
import {
  catalogContents,
  catalogTargetOf,
  notEmptyBecause,
  schemaVersion,
  type CatalogContents,
} from './catalog-queries.ts';
import type { CatalogBackupManifest } from './layout.ts';
import { listCatalogBackups, readCatalogManifest } from './stored.ts';

export interface CatalogRestoreOptions {
  driver: StorageDriver;
  /** The backup to restore; the newest in the storage when absent. */
  id?: string | undefined;
  key: DecryptionKey;
  /** The catalog to restore into: it must be empty (catalog-queries.ts, notEmptyBecause). */
  catalog: Catalog;
  /** Databases a fresh installation registers by itself (`npm start`'s demo): they do not make it non-empty. */
  setupDatabases: readonly string[];
}

export interface CatalogRestoreResult {
  manifest: CatalogBackupManifest;
  /** Migrations applied after the restore, the backup being older than this Hindsight. */
  migrated: string[];
  /** The databases the catalog held before, that the restored one may not have. */
  replaced: string[];
  contents: CatalogContents;
}

async function chooseBackup(driver: StorageDriver, id: string | undefined): Promise<CatalogBackupManifest> {
  if (id !== undefined) return readCatalogManifest(driver, id);
  const [newest] = await listCatalogBackups(driver);
  if (!newest)
    throw new HindsightError(
      'not_found',
      `storage ${driver.label} holds no catalog backup (hindsight-catalog/*.json): rebuild the catalog from the backups themselves with hindsight catalog rebuild`,
    );
  return newest;
}

/** The newest migration this Hindsight knows: a backup of a newer schema needs a newer Hindsight. */
async function newestKnownMigration(): Promise<string> {
  const files = await readdir(new URL('../catalog/migrations/', import.meta.url));
  return files
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort()
    .at(-1)!;
}

async function refuseUnrestorable(
  pool: pg.Pool,
  manifest: CatalogBackupManifest,
  setupDatabases: readonly string[],
): Promise<string[]> {
  const known = await newestKnownMigration();
  if (manifest.schemaVersion > known)
    throw new HindsightError(
      'bad_input',
      `catalog backup ${manifest.backupId} is of catalog schema ${manifest.schemaVersion}, newer than this Hindsight's ${known}: install Hindsight ${manifest.hindsightVersion} or newer and restore with it`,
    );
  if ((await schemaVersion(pool)) === null) return [];
  const before = await catalogContents(pool);
  const why = notEmptyBecause(before, setupDatabases);
  if (why)
    throw new HindsightError(
      'conflict',
      `the catalog is not empty (it holds ${why}): a restore would replace them. Restore into a fresh installation (an empty data directory, or a new DATABASE_URL database), or remove them first`,
    );
  return before.databases;
}

/** Empties the catalog's schema; pg_restore then creates every table of the backup in it. */
async function clearCatalog(target: PgTarget): Promise<number> {
  const client = await connect('catalog', target);
  try {
    await client.query('drop schema if exists public cascade');
    await client.query('create schema public');
    return (await serverInfo(client)).major;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function expectationOf(driver: StorageDriver, manifest: CatalogBackupManifest): BackupExpectation {
  return {
    identity: catalogBackupIdentity(manifest.backupId),
    objectKey: manifest.object.key,
    storageLabel: driver.label,
    objectSha256: manifest.object.sha256,
    dumpSha256: manifest.dump.sha256,
    recorded: false,
  };
}

/**
 * Reads the whole object once, authenticated as this backup and held to the manifest's checksums,
 * before the catalog is emptied: a damaged, cut or substituted object, or the wrong key, leaves the
 * catalog as it was. A catalog dump is small, so reading it twice costs little.
 */
async function authenticateObject(options: CatalogRestoreOptions, manifest: CatalogBackupManifest): Promise<void> {
  const expect = expectationOf(options.driver, manifest);
  const objectMeter = new ByteMeter();
  const dumpMeter = new ByteMeter();
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(
    await options.driver.openRead(manifest.object.key),
    objectMeter,
    new DecryptStream(options.key, decryptOptionsFor(expect)),
    dumpMeter,
    discard,
  );
  const failure = streamedChecksumFailure(expect, { objectSha256: objectMeter.sha256, dumpSha256: dumpMeter.sha256 });
  if (failure) throw failure;
}

async function loadDump(
  options: CatalogRestoreOptions,
  manifest: CatalogBackupManifest,
  target: PgTarget,
  serverMajor: number,
) {
  const { driver } = options;
  const run = await runPgRestore({
    label: `catalog backup ${manifest.backupId}`,
    object: await driver.openRead(manifest.object.key),
    expect: expectationOf(driver, manifest),
    key: options.key,
    target,
    serverMajor,
    archiveMajor: archiveMajorOf(manifest.tool.version),
  });
  if (run.streamError)
    throw run.streamError instanceof HindsightError
      ? run.streamError
      : new HindsightError('tool_failed', `catalog restore: ${run.stderrTail || errorMessage(run.streamError)}`);
  if (run.exitCode !== 0)
    throw new HindsightError(
      'tool_failed',
      `pg_restore of catalog backup ${manifest.backupId} into ${describeTarget(target)} failed (${run.signal ?? `exit ${run.exitCode}`}): ${run.stderrTail.split('\n').slice(-3).join(' | ')}`,
    );
}

/**
 * Restores a catalog backup into an empty catalog. The object is authenticated whole first, so a
 * damaged object or the wrong key changes nothing; pg_restore then runs in one transaction: a
 * failure there leaves the catalog without tables, and the next start of Hindsight creates a fresh one.
 */
export async function restoreCatalog(options: CatalogRestoreOptions): Promise<CatalogRestoreResult> {
  const { pool } = options.catalog;
  const manifest = await chooseBackup(options.driver, options.id);
  const replaced = await refuseUnrestorable(pool, manifest, options.setupDatabases);
  await authenticateObject(options, manifest);
  const target = catalogTargetOf(pool);
  const serverMajor = await clearCatalog(target);
  await loadDump(options, manifest, target, serverMajor);
  const migrated = await migrate(pool);
  return { manifest, migrated, replaced, contents: await catalogContents(pool) };
}
