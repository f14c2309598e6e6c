import { pipeline } from 'node:stream/promises';
import { HindsightError } from '../errors.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { ByteMeter } from './byte-meter.ts';
import { writeManifest } from './dump.ts';
import { manifestKey } from './ids.ts';
import { copyRolesObject } from './roles-object.ts';
import type { OpenedBackup } from './sources.ts';

/**
 * Copies a backup that one storage holds whole into another, without dumping again: the object is
 * streamed through a SHA-256 meter and committed only if it matches the manifest, then the
 * manifest follows. Bytes are copied as they are (still encrypted): no key is needed.
 */
export async function copyBackup(
  from: OpenedBackup,
  to: StorageDriver,
  signal?: AbortSignal,
): Promise<{ sizeBytes: number }> {
  const { manifest } = from;
  const objectKey = manifest.object.key;
  let write: Awaited<ReturnType<StorageDriver['openWrite']>>;
  try {
    await to.sweepAbandonedWrites(objectKey, 0);
    await to.sweepAbandonedWrites(manifestKey(manifest.database, manifest.backupId), 0);
    write = await to.openWrite(objectKey);
  } catch (error) {
    // The source is already open: close it now, or its file handle waits for the garbage collector.
    from.object.destroy();
    throw error;
  }
  const meter = new ByteMeter();
  let committed = false;
  try {
    await pipeline(from.object, meter, write.stream, signal ? { signal } : {});
    if (meter.bytes !== manifest.object.sizeBytes || meter.sha256 !== manifest.object.sha256) {
      throw new HindsightError(
        'integrity',
        `backup ${manifest.backupId} in storage ${from.driver.label} does not match its manifest (${meter.bytes} bytes, SHA-256 ${meter.sha256}); it was not copied to ${to.label}`,
      );
    }
    const stored = await write.commit();
    committed = true;
    if (stored.size !== meter.bytes) {
      throw new HindsightError(
        'integrity',
        `storage ${to.label}: '${objectKey}' holds ${stored.size} bytes after the copy, but ${meter.bytes} were sent`,
      );
    }
    await copyRolesObject(from.driver, to, manifest);
    await writeManifest(to, manifest);
    return { sizeBytes: stored.size };
  } catch (error) {
    from.object.destroy();
    if (committed) {
      await to.remove(objectKey).catch(() => undefined);
      if (manifest.roles) await to.remove(manifest.roles.key).catch(() => undefined);
    } else await write.abort().catch(() => undefined);
    throw error;
  }
}
