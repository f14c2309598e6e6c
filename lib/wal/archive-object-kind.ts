/**
 * What an object of the PITR archive is, from its key (archive-keys.ts, archive-records.ts,
 * docs/backup-format.md). The key is also the object's authenticated identity, so a decrypted
 * object's kind is known from its header once its first chunk has authenticated: this is how
 * `hindsight decrypt` knows to decompress WAL and base backups and to leave records as JSON.
 */
export type ArchiveObjectKind =
  'segment' | 'partial' | 'history' | 'base-backup' | 'backup-manifest' | 'base-backup-record' | 'wal-index';

const ROOT = String.raw`^pitr/\d{1,20}/`;
const BASE_ID = '[A-Za-z0-9._-]+';

/** The keys Hindsight writes; older test fixtures and hand-made names may lack `.zst.hsb`. */
const KINDS: ReadonlyArray<[ArchiveObjectKind, RegExp]> = [
  ['segment', new RegExp(`${ROOT}wal/[0-9A-F]{24}(\\.zst\\.hsb)?$`)],
  ['partial', new RegExp(`${ROOT}wal/[0-9A-F]{24}\\.partial(\\.zst\\.hsb)?$`)],
  ['history', new RegExp(`${ROOT}wal/[0-9A-F]{8}\\.history(\\.zst\\.hsb)?$`)],
  ['base-backup', new RegExp(`${ROOT}base/${BASE_ID}\\.tar\\.zst(\\.hsb)?$`)],
  ['backup-manifest', new RegExp(`${ROOT}base/${BASE_ID}\\.manifest\\.zst(\\.hsb)?$`)],
  ['base-backup-record', new RegExp(`${ROOT}base/${BASE_ID}\\.json\\.hsb$`)],
  ['wal-index', new RegExp(`${ROOT}wal-index/[0-9A-F]{8}/[0-9A-F]{24}-[0-9A-F]{24}\\.json\\.hsb$`)],
];

export function archiveObjectKind(key: string): ArchiveObjectKind | undefined {
  return KINDS.find(([, pattern]) => pattern.test(key))?.[0];
}

/** WAL files, base backups and their manifests are stored zstd-compressed; the records are plain JSON. */
export function isZstdArchiveObject(key: string): boolean {
  const kind = archiveObjectKind(key);
  return kind !== undefined && kind !== 'base-backup-record' && kind !== 'wal-index' && key.includes('.zst');
}

/** For people: what the decoded bytes of such an object are. */
export const DECODED_CONTENT: Record<ArchiveObjectKind, string> = {
  segment: 'a WAL segment (restore_command serves it)',
  partial: 'the valid prefix of a partial WAL segment (pad it with zeros to the segment size for recovery)',
  history: 'a timeline history file',
  'base-backup': 'a base backup (a tar archive)',
  'backup-manifest': "a base backup's backup_manifest (JSON; what pg_basebackup --incremental takes)",
  'base-backup-record': 'a base-backup record (JSON, docs/backup-format.md)',
  'wal-index': 'a WAL index batch (JSON, docs/backup-format.md)',
};
