/**
 * Finds in storage the backups a database being added can take back: every manifest under
 * `<name>/` that matches the server (adopt-match.ts) and has its object beside it at the size it
 * gives. Nothing is written; what does not qualify is reported with the reason.
 */
import { errorMessage } from '../errors.ts';
import type { ObjectInfo } from '../storage/contract.ts';
import {
  MAX_MANIFEST_BYTES,
  backupIdOfManifestKey,
  matchManifest,
  parseManifest,
  type AdoptionSource,
  type MatchedBy,
} from './adopt-match.ts';
import type { BackupManifest } from './manifest.ts';
import type { BackupSource } from './sources.ts';

/** A backup found whole in at least one storage. */
export interface AdoptionCandidate {
  manifest: BackupManifest;
  /** The storages that hold both its object and its manifest. */
  storageNames: string[];
  matchedBy: MatchedBy;
}

export interface SkippedObject {
  storage: string;
  key: string;
  reason: string;
}

export interface AdoptionScan {
  candidates: AdoptionCandidate[];
  skipped: SkippedObject[];
}

async function readText(source: BackupSource, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await source.driver.openRead(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type Found = { manifest: BackupManifest; matchedBy: MatchedBy } | { reason: string };

/** The manifest at `info.key` if it qualifies: parsed, matching the server, its object present at its size. */
async function examine(
  source: BackupSource,
  info: ObjectInfo,
  backupId: string,
  context: { name: string; source: AdoptionSource; sizes: Map<string, number> },
): Promise<Found> {
  if (info.size > MAX_MANIFEST_BYTES) return { reason: `the manifest is ${info.size} bytes, too large to be one` };
  const parsed = parseManifest(await readText(source, info.key));
  if ('reason' in parsed) return parsed;
  const verdict = matchManifest(parsed.manifest, { name: context.name, backupId, source: context.source });
  if (!verdict.adopt) return verdict;
  // The roles object (when the backup has one) travels with the dump: both must be there whole.
  const { object, roles } = parsed.manifest;
  for (const [what, entry] of [
    ['object', object],
    ['roles object', roles],
  ] as const) {
    if (!entry) continue;
    const size = context.sizes.get(entry.key);
    if (size === undefined) return { reason: `its ${what} '${entry.key}' is missing` };
    if (size !== entry.sizeBytes)
      return { reason: `its ${what} '${entry.key}' holds ${size} bytes, the manifest says ${entry.sizeBytes}` };
  }
  return { manifest: parsed.manifest, matchedBy: verdict.matchedBy };
}

/** Adds one storage's copy to what was found; a copy whose checksums differ from another storage's is refused. */
function addCopy(found: Map<string, AdoptionCandidate>, storage: string, hit: AdoptionCandidate): string | undefined {
  const known = found.get(hit.manifest.backupId);
  if (!known) {
    found.set(hit.manifest.backupId, hit);
    return undefined;
  }
  const same =
    known.manifest.object.sha256 === hit.manifest.object.sha256 &&
    known.manifest.dump.sha256 === hit.manifest.dump.sha256;
  if (!same) return `its checksums differ from the copy in storage ${known.storageNames[0]}`;
  known.storageNames.push(storage);
  return undefined;
}

/** Scans `sources` for backups of database `name` taken from `source`. */
export async function scanForBackups(
  sources: BackupSource[],
  name: string,
  source: AdoptionSource,
): Promise<AdoptionScan> {
  const found = new Map<string, AdoptionCandidate>();
  const skipped: SkippedObject[] = [];
  for (const storage of sources) {
    let listing: ObjectInfo[];
    try {
      listing = await storage.driver.list(name);
    } catch (error) {
      skipped.push({ storage: storage.name, key: `${name}/`, reason: `could not be listed: ${errorMessage(error)}` });
      continue;
    }
    const sizes = new Map(listing.map((o) => [o.key, o.size]));
    for (const info of listing) {
      const backupId = backupIdOfManifestKey(name, info.key);
      if (backupId === undefined) continue;
      const hit = await examine(storage, info, backupId, { name, source, sizes }).catch((error: unknown): Found => ({
        reason: `could not be read: ${errorMessage(error)}`,
      }));
      const reason =
        'reason' in hit ? hit.reason : addCopy(found, storage.name, { ...hit, storageNames: [storage.name] });
      if (reason !== undefined) skipped.push({ storage: storage.name, key: info.key, reason });
    }
  }
  const candidates = [...found.values()].sort((a, b) => a.manifest.startedAt.localeCompare(b.manifest.startedAt));
  return { candidates, skipped };
}
