/**
 * The real readers of each kind of stored object, run as Hindsight runs them, each reporting what
 * refused the object (or nothing) and what it restored from it anyway (the tables of the target, a
 * WAL file handed to PostgreSQL, files left in a data directory, a catalog that changed).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { decryptCommand } from '../../cli/decrypt.ts';
import { prepareRestoreTarget, streamRestoreFromStorage } from '../../lib/backup/restore.ts';
import { openBackupFromAny } from '../../lib/backup/sources.ts';
import { restoreCatalog } from '../../lib/catalog-backup/restore.ts';
import { migrate } from '../../lib/catalog/migrate.ts';
import { readStorage } from '../../lib/catalog/rebuild/read-storage.ts';
import type { RebuildFindings } from '../../lib/catalog/rebuild/findings.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import { listTables } from '../../lib/pg/row-counts.ts';
import { extractForRestore } from '../../lib/pitr/combine.ts';
import { prepareDataDirectory } from '../../lib/pitr/extract.ts';
import { startWalFetchServer } from '../../lib/pitr/wal-fetch-server.ts';
import type { WalSource } from '../../lib/pitr/wal-source.ts';
import { DATABASE, type CorruptWorld, type WalEntry } from './corrupt-world.ts';

const run = promisify(execFile);

/** What a reader did with an object: the refusal (undefined when it took it) and what it restored from it. */
export interface Outcome {
  error: Error | undefined;
  restored: string[];
}

const failure = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
let runs = 0;

async function tablesOf(target: PgTarget): Promise<string[]> {
  const client = await connect('corrupt-objects', target).catch(() => undefined);
  if (!client) return [];
  try {
    return (await listTables(client)).map((t) => `table ${t.schema}.${t.table} in ${target.database}`);
  } finally {
    await client.end();
  }
}

/**
 * A logical restore as the restore activity runs it: the copy opened with the checksums the catalog
 * recorded when the backup was taken (here: those of its intact manifest), into a new database.
 */
export async function restoreLogical(world: CorruptWorld, backupId: string, key: SecretKey): Promise<Outcome> {
  const target = world.newTarget();
  await prepareRestoreTarget('corrupt-objects', target);
  const recorded = world.recorded.get(backupId)!;
  let error: Error | undefined;
  try {
    const sources = [{ name: 'objects', driver: world.driver }];
    const opened = await openBackupFromAny(sources, DATABASE, backupId, undefined, recorded);
    const { manifest, object, expect } = opened;
    await streamRestoreFromStorage({ label: 'corrupt-objects', manifest, object, expect, key, target });
  } catch (caught) {
    error = failure(caught);
  }
  return { error, restored: await tablesOf(target) };
}

/** `hindsight decrypt <file> --expect <key> -o <out>` on a copy of the object named by its key. */
export async function decryptObject(world: CorruptWorld, objectKey: string, key: SecretKey): Promise<Outcome> {
  const dir = path.join(world.dir, 'decrypt', String(++runs));
  const file = path.join(dir, objectKey);
  await mkdir(path.dirname(file), { recursive: true });
  await copyFile(path.join(world.dir, 'storage', objectKey), file);
  const output = path.join(dir, 'plaintext');
  let error: Error | undefined;
  try {
    await decryptCommand(file, { key, output, expect: objectKey, json: true });
  } catch (caught) {
    error = failure(caught);
  }
  const written = (await readdir(dir)).filter((f) => f.startsWith('plaintext'));
  await rm(dir, { recursive: true, force: true });
  return { error, restored: written.map((f) => `decrypted file ${f}`) };
}

/** The PITR restore's extraction of a base backup into a new data directory (what precedes starting its server). */
export async function extractBase(world: CorruptWorld, index: number, key: SecretKey): Promise<Outcome> {
  const base = world.base[index]!;
  const dataDir = path.join(world.dir, 'extract', String(++runs));
  await prepareDataDirectory(dataDir, `restore-${runs}`, async () => undefined);
  let error: Error | undefined;
  try {
    const chain = [{ id: base.id, objectKey: base.objectKey, sha256: base.sha256 }];
    await extractForRestore({ chain, driver: world.driver, key: () => key, dataDir });
  } catch (caught) {
    error = failure(caught);
  }
  const left = (await readdir(dataDir)).filter((f) => f !== 'hindsight-restore.id');
  await rm(dataDir, { recursive: true, force: true });
  return { error, restored: left.map((f) => `${f} in the data directory`) };
}

/** restore_command, as PostgreSQL runs it, against the WAL fetch server of a restore that lists `entry`. */
export async function fetchWal(world: CorruptWorld, entry: WalEntry, key: SecretKey): Promise<Outcome> {
  const { segmentSize, driver } = world;
  const listed = {
    storageName: 'objects',
    objectKey: entry.objectKey,
    kind: entry.kind,
    ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
    ...(entry.kind === 'partial' ? { padToSize: segmentSize } : {}),
  };
  // What the catalog lists for this restore: this one file.
  const source: WalSource = {
    segmentSize,
    find: async (file: string) => (file === entry.file ? listed : null),
    driver: async () => driver,
    close: async () => undefined,
  };
  const server = await startWalFetchServer({ source, key, logger: pino({ level: 'silent' }), prefetchDepth: 0 });
  const dir = path.join(world.dir, 'pg_wal', String(++runs));
  await mkdir(dir, { recursive: true });
  const destination = path.join(dir, 'RECOVERYXLOG');
  const command = server.restoreCommand
    .replaceAll('%f', entry.file)
    .replaceAll('%p', destination)
    .replaceAll('%%', '%');
  let error: Error | undefined;
  try {
    await run('sh', ['-c', command]);
  } catch (caught) {
    const { stderr, code } = caught as { stderr?: string; code?: number };
    error = new Error(`restore_command exit ${code}: ${stderr?.trim()}`);
  } finally {
    await server.close();
  }
  const handed = await exists(destination);
  await rm(dir, { recursive: true, force: true });
  return { error, restored: handed ? [`${entry.file} handed to PostgreSQL`] : [] };
}

/** What a catalog rebuild read from the storage took of object `objectKey` (`taken`), and its refusal. */
export async function rebuildRead(
  world: CorruptWorld,
  objectKey: string,
  key: SecretKey,
  taken: (findings: RebuildFindings) => string[],
): Promise<Outcome> {
  const findings = await readStorage({ name: 'objects', driver: world.driver }, key);
  const refused = findings.unreadable.find((u) => u.key === objectKey);
  return { error: refused && new Error(`${refused.key}: ${refused.reason}`), restored: taken(findings) };
}

/** The tables of the catalog restored into, and the rows of each: what a restore would change. */
async function catalogState(world: CorruptWorld): Promise<string> {
  const { rows } = await world.catalog.target.pool.query<{ t: string }>(
    `select string_agg(table_name, ',' order by table_name) as t from information_schema.tables where table_schema = 'public'`,
  );
  const storages = await world.catalog.target.pool.query('select name from storages').catch(() => ({ rows: [] }));
  return `${rows[0]?.t ?? ''}; storages ${JSON.stringify(storages.rows)}`;
}

async function emptyCatalog(world: CorruptWorld): Promise<void> {
  const { pool } = world.catalog.target;
  await pool.query('drop schema public cascade; create schema public');
  await migrate(pool);
}

/** `hindsight catalog restore --id <id>` into the empty catalog. */
export async function restoreCatalogBackup(world: CorruptWorld, id: string, key: SecretKey): Promise<Outcome> {
  const before = await catalogState(world);
  let error: Error | undefined;
  try {
    await restoreCatalog({ driver: world.driver, id, key, catalog: world.catalog.target, setupDatabases: [] });
  } catch (caught) {
    error = failure(caught);
  }
  const after = await catalogState(world);
  // A restore that went through leaves an empty catalog again for the next one.
  if (!error) await emptyCatalog(world);
  return { error, restored: before === after ? [] : [`the catalog changed: ${before} → ${after}`] };
}
