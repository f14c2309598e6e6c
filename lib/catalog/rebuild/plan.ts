/**
 * Decides, without touching anything, which catalog rows what was read from storage becomes: the
 * databases to create (named by manifests and archive records), the backups and their copy, and
 * per archive its owner, base backups (parents first), WAL segment groups and histories. Whether a
 * row already exists is left to the writes (they insert nothing twice), so planning twice from the
 * same storage plans the same rows.
 */
import type { BackupManifest } from '../../backup/manifest.ts';
import { errorMessage } from '../../errors.ts';
import { NAME_PATTERN } from '../../names.ts';
import type { BaseBackupRecord } from '../../wal/archive-records.ts';
import { parseLsn, parseSegmentName } from '../../wal/lsn.ts';
import type { WalSegmentRecord } from '../wal-objects.ts';
import type { FoundArchive, FoundHistory, FoundSegment, RebuildFindings, Unreadable } from './findings.ts';

/** A database row a rebuild creates. The connection is what the manifest says, never with credentials. */
export interface RebuiltDatabase {
  name: string;
  host: string;
  port: number;
  dbname: string;
  /** False when only a PITR archive names the database: no manifest told where its server is. */
  connectionKnown: boolean;
}

/** A segment's row as the archiver records it, less what the whole archive shares. */
export type SegmentRow = Omit<WalSegmentRecord, 'database' | 'systemIdentifier' | 'storageName'>;

export interface PlannedArchive {
  database: string;
  systemIdentifier: string;
  walSegmentSizeBytes: number | undefined;
  baseBackups: BaseBackupRecord[];
  segmentGroups: SegmentRow[][];
  histories: FoundHistory[];
  fromIndex: number;
  byReading: number;
}

export interface RebuildPlan {
  databases: RebuiltDatabase[];
  backups: BackupManifest[];
  archives: PlannedArchive[];
  unreadable: Unreadable[];
}

/** The host, port and database name a server had, from its newest manifest. */
function databasesFromManifests(backups: BackupManifest[]): Map<string, RebuiltDatabase> {
  const byName = new Map<string, RebuiltDatabase>();
  const newestFirst = [...backups].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  for (const m of newestFirst) {
    if (byName.has(m.database)) continue;
    byName.set(m.database, {
      name: m.database,
      host: m.source.host,
      port: m.source.port,
      dbname: m.source.database,
      connectionKnown: true,
    });
  }
  return byName;
}

/** The owner an archive's records name or, for an archive without records, a manifest taken from that server. */
function ownerOf(archive: FoundArchive, backups: BackupManifest[]): string | undefined {
  if (archive.database !== undefined) return archive.database;
  const owners = new Set(
    backups.filter((m) => m.source.systemIdentifier === archive.systemIdentifier).map((m) => m.database),
  );
  return owners.size === 1 ? [...owners][0] : undefined;
}

export function segmentRow(segment: FoundSegment, segmentSize: number): SegmentRow {
  const { timeline, segno } = parseSegmentName(segment.name, segmentSize);
  return {
    timeline,
    segno,
    name: segment.name,
    startLsn: parseLsn(segment.startLsn),
    endLsn: parseLsn(segment.endLsn),
    complete: segment.complete,
    sizeBytes: segment.sizeBytes,
    storedBytes: segment.storedBytes,
    sha256: segment.sha256,
    objectKey: segment.objectKey,
    receivedAt: new Date(segment.receivedAt),
  };
}

/**
 * Base backups in an order the parent reference allows (a full before the increments over it); an
 * increment whose parent is neither read nor already recorded cannot be restored and is left out.
 */
export function orderBaseBackups(
  records: BaseBackupRecord[],
  recorded: ReadonlySet<string>,
  unreadable: Unreadable[],
): BaseBackupRecord[] {
  const known = new Set(recorded);
  const ordered: BaseBackupRecord[] = [];
  for (const record of [...records].sort((a, b) => a.startedAt.localeCompare(b.startedAt))) {
    if (record.parentId !== null && !known.has(record.parentId)) {
      unreadable.push({
        key: record.object.key,
        reason: `it is an increment over base backup ${record.parentId}, which is neither in storage nor in the catalog`,
      });
      continue;
    }
    known.add(record.id);
    ordered.push(record);
  }
  return ordered;
}

/** The groups as rows; a group holding a name that cannot exist at this segment size is left out whole. */
function placedGroups(groups: FoundSegment[][], size: number, unreadable: Unreadable[]): SegmentRow[][] {
  const placed: SegmentRow[][] = [];
  for (const group of groups) {
    try {
      placed.push(group.map((s) => segmentRow(s, size)));
    } catch (error) {
      unreadable.push({ key: group[0]!.objectKey, reason: errorMessage(error) });
    }
  }
  return placed;
}

function planArchive(
  archive: FoundArchive,
  database: string,
  recordedBaseBackups: ReadonlySet<string>,
  unreadable: Unreadable[],
): PlannedArchive {
  const size = archive.walSegmentSizeBytes;
  const groups = archive.segmentGroups.filter((group) => group.length > 0);
  if (size === undefined && groups.length > 0)
    unreadable.push({
      key: `pitr/${archive.systemIdentifier}/wal/`,
      reason: 'no base backup, index batch or complete segment gives the segment size, so no segment can be placed',
    });
  return {
    database,
    systemIdentifier: archive.systemIdentifier,
    walSegmentSizeBytes: size,
    baseBackups: orderBaseBackups(archive.baseBackups, recordedBaseBackups, unreadable),
    segmentGroups: size === undefined ? [] : placedGroups(groups, size, unreadable),
    histories: archive.histories,
    fromIndex: archive.fromIndex,
    byReading: archive.byReading,
  };
}

/**
 * The rows for `findings`. `existing` are the databases the catalog holds already (none is created
 * again), `recordedBaseBackups` the base backup ids it holds (parents an increment may refer to).
 */
export function planRebuild(
  findings: RebuildFindings,
  existing: ReadonlySet<string>,
  recordedBaseBackups: ReadonlySet<string>,
): RebuildPlan {
  const unreadable = [...findings.unreadable];
  const wanted = databasesFromManifests(findings.backups);
  const archives: PlannedArchive[] = [];
  for (const archive of findings.archives) {
    const owner = ownerOf(archive, findings.backups);
    if (owner === undefined || !NAME_PATTERN.test(owner)) {
      unreadable.push({
        key: `pitr/${archive.systemIdentifier}/`,
        reason:
          owner === undefined
            ? 'no base-backup record, index batch or manifest names the database whose archive it is'
            : `its records name database "${owner}", which is no database name`,
      });
      continue;
    }
    if (!wanted.has(owner))
      wanted.set(owner, { name: owner, host: 'localhost', port: 5432, dbname: owner, connectionKnown: false });
    archives.push(planArchive(archive, owner, recordedBaseBackups, unreadable));
  }
  return {
    databases: [...wanted.values()].filter((d) => !existing.has(d.name)).sort((a, b) => a.name.localeCompare(b.name)),
    backups: findings.backups,
    archives,
    unreadable,
  };
}
