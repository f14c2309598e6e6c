import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { NAME_SOURCE } from '../names.ts';

/**
 * What an encrypted object is, written into its header (format version 2) and authenticated with
 * every chunk, so that an object copied to another name in storage is refused instead of being
 * restored as the backup that name promises. Storage may rewrite names and manifests; it cannot
 * forge a header without the key.
 *
 * - a logical backup is the database's name in Hindsight and the backup id;
 * - a PITR object (WAL segment, partial segment, timeline history, base backup) is its key in
 *   the storage, `pitr/<system identifier>/wal/<file>…` or `pitr/<system identifier>/base/<id>…`,
 *   which names the cluster, and the timeline and segment or the base backup;
 * - a backup of the catalog itself is its id (`hindsight-catalog/<id>.dump.hsb`).
 */
export const objectIdentitySchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('logical-backup'),
      database: z.string().min(1).max(200),
      backupId: z.string().min(1).max(200),
    })
    .strict(),
  // The roles a logical backup needs (lib/backup/roles.ts): its own kind, so it is never taken for the dump.
  z
    .object({
      kind: z.literal('logical-backup-roles'),
      database: z.string().min(1).max(200),
      backupId: z.string().min(1).max(200),
    })
    .strict(),
  z.object({ kind: z.literal('pitr-object'), key: z.string().min(1).max(1000) }).strict(),
  // A backup of Hindsight's own catalog (lib/catalog-backup/): bound to its id, never to a database.
  z.object({ kind: z.literal('catalog-backup'), backupId: z.string().min(1).max(200) }).strict(),
]);

export type ObjectIdentity = z.infer<typeof objectIdentitySchema>;

export type LogicalBackupIdentity = Extract<ObjectIdentity, { kind: 'logical-backup' }>;

export const MAX_IDENTITY_BYTES = 4096;

export function logicalBackupIdentity(database: string, backupId: string): LogicalBackupIdentity {
  return { kind: 'logical-backup', database, backupId };
}

export function logicalBackupRolesIdentity(database: string, backupId: string): ObjectIdentity {
  return { kind: 'logical-backup-roles', database, backupId };
}

export function pitrObjectIdentity(key: string): ObjectIdentity {
  return { kind: 'pitr-object', key };
}

export function catalogBackupIdentity(backupId: string): ObjectIdentity {
  return { kind: 'catalog-backup', backupId };
}

/** Where catalog backups lie in every storage; the name is reserved for no database to take. */
export const CATALOG_BACKUP_PREFIX = 'hindsight-catalog';

/** JSON with the fields in one fixed order, so that equal identities are equal bytes too. */
export function encodeIdentity(identity: ObjectIdentity): Buffer {
  const ordered =
    identity.kind === 'pitr-object'
      ? { kind: identity.kind, key: identity.key }
      : identity.kind === 'catalog-backup'
        ? { kind: identity.kind, backupId: identity.backupId }
        : { kind: identity.kind, database: identity.database, backupId: identity.backupId };
  const bytes = Buffer.from(JSON.stringify(ordered), 'utf8');
  if (bytes.length > MAX_IDENTITY_BYTES)
    throw new HindsightError('bad_input', `object identity is ${bytes.length} bytes, more than ${MAX_IDENTITY_BYTES}`);
  return bytes;
}

export function decodeIdentity(bytes: Buffer): ObjectIdentity {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HindsightError(
      'integrity',
      'the object header holds an identity that is not JSON: the header is damaged',
    );
  }
  const parsed = objectIdentitySchema.safeParse(json);
  if (!parsed.success)
    throw new HindsightError(
      'integrity',
      `the object header holds an unknown identity (${parsed.error.issues[0]?.message}): the header is damaged, or a newer Hindsight wrote it`,
    );
  return parsed.data;
}

export function sameIdentity(a: ObjectIdentity, b: ObjectIdentity): boolean {
  return encodeIdentity(a).equals(encodeIdentity(b));
}

/** For people: "backup 20261123T103000Z-3f9a1c of database orders". */
export function describeIdentity(identity: ObjectIdentity): string {
  if (identity.kind === 'logical-backup') return `backup ${identity.backupId} of database ${identity.database}`;
  if (identity.kind === 'logical-backup-roles')
    return `roles of backup ${identity.backupId} of database ${identity.database}`;
  if (identity.kind === 'catalog-backup') return `catalog backup ${identity.backupId}`;
  return `PITR object ${identity.key}`;
}

/** The archive's files (wal/, base/) and the WAL index batches (wal-index/<timeline>/<first>-<last>.json.hsb). */
const PITR_KEY =
  /^pitr\/\d{1,20}\/((wal|base)\/[A-Za-z0-9._-]+|wal-index\/[0-9A-F]{8}\/[0-9A-F]{24}-[0-9A-F]{24}\.json\.hsb)$/;
const CATALOG_KEY = new RegExp(`^${CATALOG_BACKUP_PREFIX}/(\\d{8}T\\d{6}Z-[0-9a-f]{6})\\.dump\\.hsb$`);
const LOGICAL_KEY = new RegExp(`^(${NAME_SOURCE})/(\\d{8}T\\d{6}Z-[0-9a-f]{6})(\\.dump\\.hsb|\\.roles\\.hsb)?$`);

/**
 * The identity an object stored under `key` must carry: `<database>/<backupId>.dump.hsb` (or
 * `<database>/<backupId>`) for a logical backup, `<database>/<backupId>.roles.hsb` for its roles,
 * `pitr/…` for the PITR archive, `hindsight-catalog/<backupId>.dump.hsb` for a catalog backup.
 */
export function identityForObjectKey(key: string): ObjectIdentity {
  const catalog = CATALOG_KEY.exec(key);
  if (catalog) return catalogBackupIdentity(catalog[1]!);
  const logical = LOGICAL_KEY.exec(key);
  if (logical?.[3] === '.roles.hsb') return logicalBackupRolesIdentity(logical[1]!, logical[2]!);
  if (logical) return logicalBackupIdentity(logical[1]!, logical[2]!);
  if (PITR_KEY.test(key)) return pitrObjectIdentity(key);
  throw new HindsightError(
    'bad_input',
    `"${key}" names no Hindsight object: expected <database>/<backup id>[.dump.hsb|.roles.hsb], pitr/<system id>/(wal|base)/<file>, pitr/<system id>/wal-index/<timeline>/<batch> or ${CATALOG_BACKUP_PREFIX}/<id>.dump.hsb`,
  );
}
