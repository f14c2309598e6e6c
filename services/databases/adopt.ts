/**
 * A database added again takes back the backups it left in storage: `db remove` keeps them by
 * default, and a backup is found by its manifest under `<name>/` (lib/backup/adopt-scan.ts).
 */
import type { AdoptionSource } from '../../lib/backup/adopt-match.ts';
import { scanForBackups, type SkippedObject } from '../../lib/backup/adopt-scan.ts';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { withDrivers } from '../../activities/storage-access.ts';

export interface AdoptionReport {
  /** How many earlier backups were recorded as backups of the database. */
  count: number;
  backupIds: string[];
  /** The storages they were found in. */
  storages: string[];
  /** Manifests under the database's name that were not taken, and why. */
  skipped: SkippedObject[];
  /** How a backup was told to come from this server: by its system identifier, or only by names. */
  matchedBy: 'system-identifier' | 'names';
  /** What the caller should know about how far the match goes. */
  note: string | null;
}

function noteFor(source: AdoptionSource, skipCheck: boolean): string | null {
  if (source.systemIdentifier !== undefined) return null;
  return skipCheck
    ? 'no server was asked (--no-check): earlier backups were matched by database name and source database name only'
    : 'the server did not tell its system identifier (pg_control_system() refused): earlier backups were matched by database name and source database name only';
}

/** Records every backup of `name` found whole in `storages` and taken from `source`. */
export async function adoptStoredBackups(
  catalog: Catalog,
  input: { name: string; storages: string[]; source: AdoptionSource; skipCheck: boolean },
): Promise<AdoptionReport> {
  const scan = await withDrivers(catalog, input.storages, (sources) =>
    scanForBackups(sources, input.name, input.source),
  );
  const adopted: string[] = [];
  const storages = new Set<string>();
  const skipped = [...scan.skipped];
  for (const candidate of scan.candidates) {
    const { backupId } = candidate.manifest;
    if (await catalog.adoptBackup(input.name, candidate)) {
      adopted.push(backupId);
      for (const storage of candidate.storageNames) storages.add(storage);
    } else {
      const key = `${input.name}/${backupId}.json`;
      skipped.push({ storage: candidate.storageNames[0]!, key, reason: `backup ${backupId} is already recorded` });
    }
  }
  return {
    count: adopted.length,
    backupIds: adopted,
    storages: input.storages.filter((s) => storages.has(s)),
    skipped,
    matchedBy: input.source.systemIdentifier === undefined ? 'names' : 'system-identifier',
    note: noteFor(input.source, input.skipCheck),
  };
}
