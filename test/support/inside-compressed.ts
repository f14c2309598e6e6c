/** A logical backup written the way Hindsight wrote them before compression moved out of pg_dump. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { streamDumpToStorage } from '../../lib/backup/dump.ts';
import { DecryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import type { Platform } from './platform.ts';
import { assertSameTables } from './seeded-platform.ts';

/** The first decrypted chunk of a stored object. */
export async function firstPlaintextBytes(object: Buffer, key: Platform['runtime']['key']): Promise<Buffer> {
  const decrypt = new DecryptStream(key);
  const first = new Promise<Buffer>((resolve) => decrypt.once('data', resolve));
  decrypt.end(object);
  return first;
}

/**
 * A backup as Hindsight wrote it before: pg_dump's own compression inside the archive, and a
 * manifest that does not say where (read as "inside"). Adopted from storage, it restores.
 */
export async function restoreInsideCompressed(
  platform: Platform,
  source: PgTarget,
  tables: Array<[string, string]>,
  rows: number,
): Promise<void> {
  const backupId = '20261101T000000Z-a1da1d';
  const driver = createLocalStorage({ name: 'local', root: platform.backupsDir });
  const { manifest } = await streamDumpToStorage({
    databaseName: 'legacy',
    backupId,
    target: source,
    destinations: [{ name: 'local', driver }],
    key: platform.runtime.key,
    compression: 'inside',
  });
  const pgDump = await toolFor('pg_dump', platform.cluster.major);
  assert.deepEqual(manifest.tool.compression, {
    algorithm: pgDump.major >= 16 ? 'zstd' : 'gzip',
    level: 5,
    where: 'inside',
  });
  const manifestFile = path.join(platform.backupsDir, 'legacy', `${backupId}.json`);
  const old = JSON.parse(await readFile(manifestFile, 'utf8'));
  delete old.tool.compression.where;
  await writeFile(manifestFile, JSON.stringify(old));
  const object = await readFile(path.join(platform.backupsDir, 'legacy', `${backupId}.dump.hsb`));
  assert.equal((await firstPlaintextBytes(object, platform.runtime.key)).subarray(0, 5).toString(), 'PGDMP');

  const added = await platform.ops.addDatabase({
    name: 'legacy',
    url: targetUrl(source),
    storages: 'local',
    verifyAfterBackup: false,
  });
  assert.deepEqual(added.adopted?.backupIds, [backupId]);
  const restore = await platform.ops.startRestore({
    database: 'legacy',
    backupId,
    to: { database: 'legacy_restored' },
  });
  assert.equal((await restore.result()).rowsChecked, rows);
  await assertSameTables({ ...source, database: 'legacy_restored' }, source, tables);
}
