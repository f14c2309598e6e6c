/**
 * What a catalog rebuild read from one storage, before anything is written: the logical backups
 * whose manifest and header agree, each PITR archive (per system identifier) with its base-backup
 * records, WAL segments and timeline histories, and every object that could not be read, with why.
 */
import type { BackupManifest } from '../../backup/manifest.ts';
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { ObjectInfo, StorageDriver } from '../../storage/contract.ts';
import type { BaseBackupRecord } from '../../wal/archive-records.ts';

/** An object skipped: nothing of it reaches the catalog. */
export interface Unreadable {
  key: string;
  reason: string;
}

/** A WAL object as its index batch or its own bytes describe it. */
export interface FoundSegment {
  name: string;
  /** LSNs as PostgreSQL prints them (X/Y). */
  startLsn: string;
  endLsn: string;
  complete: boolean;
  sizeBytes: number;
  storedBytes: number;
  sha256: string;
  objectKey: string;
  receivedAt: string;
}

export interface FoundHistory {
  timeline: number;
  content: string;
  objectKey: string;
}

/**
 * One PITR archive. `database` names the Hindsight database that owns it (from its records), or is
 * undefined when no record says. Segments come in groups: one per index batch, one per object read.
 */
export interface FoundArchive {
  systemIdentifier: string;
  database: string | undefined;
  walSegmentSizeBytes: number | undefined;
  baseBackups: BaseBackupRecord[];
  segmentGroups: FoundSegment[][];
  histories: FoundHistory[];
  /** How many segments came from index batches, and how many by reading the segment itself. */
  fromIndex: number;
  byReading: number;
}

export interface RebuildFindings {
  storage: string;
  backups: BackupManifest[];
  archives: FoundArchive[];
  unreadable: Unreadable[];
}

/** What the readers of one archive work with; they add what they cannot read to `unreadable`. */
export interface ArchiveSource {
  driver: StorageDriver;
  key: DecryptionKey;
  /** The objects under the archive's prefix, and their sizes by key. */
  listing: ObjectInfo[];
  sizes: Map<string, number>;
  unreadable: Unreadable[];
}
