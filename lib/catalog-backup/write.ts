/**
 * A backup of Hindsight's own catalog: `pg_dump -Fc` of the catalog database, streamed through the
 * same meters, encryption and fan-out as a database's backup (lib/backup/), to every storage that
 * holds backups, each copy with its plain manifest. Secrets stay as the catalog holds them: sealed
 * with the secret key, inside a dump that is itself encrypted.
 */
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from '../backup/byte-meter.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import type { CopyOutcome, Destination } from '../backup/dump.ts';
import { FanOut, failBranch, type Branch } from '../backup/fan-out.ts';
import { EncryptStream, FORMAT_VERSION } from '../crypto/chunked-gcm.ts';
import { catalogBackupIdentity } from '../crypto/object-identity.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, libpqChildEnv, serverInfo, type PgTarget } from '../pg/connection.ts';
import { dumpCompressionFor, toolFor } from '../pg/tools.ts';
import { writeJsonObject } from '../storage/shared/json-object.ts';
import { CATALOG_BACKUP_FORMAT, catalogManifestKey, catalogObjectKey, type CatalogBackupManifest } from './layout.ts';

export interface CatalogBackupOptions {
  backupId: string;
  /** The catalog database. */
  target: PgTarget;
  destinations: Destination[];
  key: SecretKey;
  schemaVersion: string;
  hindsightVersion: string;
}

export interface CatalogBackupResult {
  manifest: CatalogBackupManifest;
  copies: CopyOutcome[];
}

async function openBranches(destinations: Destination[], objectKey: string): Promise<Branch[]> {
  const branches: Branch[] = destinations.map((d) => ({
    name: d.name,
    driver: d.driver,
    write: undefined,
    error: undefined,
  }));
  await Promise.all(
    branches.map(async (branch) => {
      try {
        branch.write = await branch.driver.openWrite(objectKey);
      } catch (error) {
        failBranch(branch, error);
      }
    }),
  );
  return branches;
}

/** Commits a copy and writes its manifest; a copy whose size is not what was sent is removed, not kept. */
async function finishCopy(branch: Branch, manifest: CatalogBackupManifest): Promise<CopyOutcome> {
  if (branch.error || !branch.write)
    return { storageName: branch.name, status: 'failed', error: branch.error?.message ?? 'no write' };
  const { driver } = branch;
  try {
    const stored = await branch.write.commit();
    branch.write = undefined;
    if (stored.size !== manifest.object.sizeBytes) {
      await driver.remove(manifest.object.key).catch(() => undefined);
      throw new HindsightError(
        'integrity',
        `storage ${driver.label}: '${manifest.object.key}' holds ${stored.size} bytes after upload, but ${manifest.object.sizeBytes} were sent`,
      );
    }
    await writeJsonObject(driver, catalogManifestKey(manifest.backupId), manifest);
    return { storageName: branch.name, status: 'complete', sizeBytes: stored.size };
  } catch (error) {
    return { storageName: branch.name, status: 'failed', error: errorMessage(error) };
  }
}

interface Streamed {
  dump: ByteMeter;
  object: ByteMeter;
  toolVersion: string;
  serverVersion: string;
}

/** pg_dump → SHA-256 → AES-256-GCM chunks bound to the backup id → every branch at once. */
async function streamDump(options: CatalogBackupOptions, fanOut: FanOut): Promise<Streamed> {
  const client = await connect('catalog', options.target);
  const server = await serverInfo(client).finally(() => client.end().catch(() => undefined));
  const pgDump = await toolFor('pg_dump', server.major);
  const args = ['--format=custom', dumpCompressionFor(pgDump.major).flag, '--no-password'];
  const child = spawn(pgDump.path, args, { env: libpqChildEnv(options.target), stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = stderrTail(child);
  const exited = waitForExit(child);
  const dump = new ByteMeter();
  const object = new ByteMeter();
  const encrypt = new EncryptStream(options.key, { identity: catalogBackupIdentity(options.backupId) });
  try {
    await pipeline(child.stdout, dump, encrypt, object, fanOut);
  } catch (error) {
    child.kill('SIGTERM');
    await exited.catch(() => undefined);
    throw error;
  }
  const { code, signal } = await exited;
  if (code !== 0 || dump.bytes === 0)
    throw new HindsightError(
      'tool_failed',
      `catalog backup ${options.backupId}: pg_dump of the catalog failed (${signal ?? `exit ${code}`}): ${stderr() || 'no output'}`,
    );
  return { dump, object, toolVersion: pgDump.version, serverVersion: server.version };
}

function manifestOf(options: CatalogBackupOptions, startedAt: Date, streamed: Streamed): CatalogBackupManifest {
  const { backupId } = options;
  return {
    format: CATALOG_BACKUP_FORMAT,
    formatVersion: 1,
    backupId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    schemaVersion: options.schemaVersion,
    hindsightVersion: options.hindsightVersion,
    serverVersion: streamed.serverVersion,
    tool: { name: 'pg_dump', version: streamed.toolVersion, format: 'custom' },
    dump: { sizeBytes: streamed.dump.bytes, sha256: streamed.dump.sha256 },
    object: { key: catalogObjectKey(backupId), sizeBytes: streamed.object.bytes, sha256: streamed.object.sha256 },
    encryption: { format: 'HSBK', version: FORMAT_VERSION, keyId: options.key.id },
  };
}

/**
 * Writes one catalog backup to every destination; pg_dump runs once however many there are. A
 * destination that fails is reported and the others go on; it fails only when none took a copy.
 */
export async function writeCatalogBackup(options: CatalogBackupOptions): Promise<CatalogBackupResult> {
  const startedAt = new Date();
  const objectKey = catalogObjectKey(options.backupId);
  const branches = await openBranches(options.destinations, objectKey);
  if (branches.every((b) => b.error))
    throw new HindsightError(
      'unreachable',
      `catalog backup ${options.backupId} can reach no storage: ${branches.map((b) => b.error!.message).join('; ')}`,
    );
  let streamed: Streamed;
  try {
    streamed = await streamDump(options, new FanOut(branches));
  } catch (error) {
    for (const branch of branches) failBranch(branch, error);
    await Promise.all(branches.map((b) => b.discarded));
    throw error;
  }
  const manifest = manifestOf(options, startedAt, streamed);
  const copies = await Promise.all(branches.map((branch) => finishCopy(branch, manifest)));
  if (copies.every((c) => c.status === 'failed'))
    throw new HindsightError(
      'unreachable',
      `catalog backup ${options.backupId} reached no storage: ${copies.map((c) => `${c.storageName}: ${c.error}`).join('; ')}`,
    );
  return { manifest, copies };
}
