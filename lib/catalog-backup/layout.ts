/**
 * How a backup of Hindsight's own catalog lies in a storage: the encrypted pg_dump archive at
 * `hindsight-catalog/<id>.dump.hsb` and a plain manifest beside it at `hindsight-catalog/<id>.json`.
 * The manifest is readable without the key, so that an operator (or `catalog restore`) can choose a
 * backup before decrypting; the object's header binds it to its id (lib/crypto/object-identity.ts).
 */
import { z } from 'zod';
import { CATALOG_BACKUP_PREFIX } from '../crypto/object-identity.ts';

export { CATALOG_BACKUP_PREFIX };

export const CATALOG_BACKUP_FORMAT = 'hindsight-catalog-backup';

/** Catalog backup ids read like backup ids and sort by time: `20261123T103000Z-3f9a1c`. */
export const catalogBackupIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
export const catalogBackupIdSchema = z
  .string()
  .regex(catalogBackupIdPattern, 'a catalog backup id looks like 20261123T103000Z-3f9a1c');

export function catalogObjectKey(id: string): string {
  return `${CATALOG_BACKUP_PREFIX}/${id}.dump.hsb`;
}

export function catalogManifestKey(id: string): string {
  return `${CATALOG_BACKUP_PREFIX}/${id}.json`;
}

const sizedDigest = z.object({ sizeBytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export const catalogBackupManifestSchema = z.object({
  format: z.literal(CATALOG_BACKUP_FORMAT),
  formatVersion: z.literal(1),
  backupId: catalogBackupIdSchema,
  startedAt: z.string(),
  finishedAt: z.string(),
  /** The last catalog migration applied when the dump was taken: a restore runs the newer ones after it. */
  schemaVersion: z.string(),
  hindsightVersion: z.string(),
  serverVersion: z.string(),
  tool: z.object({ name: z.literal('pg_dump'), version: z.string(), format: z.literal('custom') }),
  /** The pg_dump archive before encryption, and the object as stored. */
  dump: sizedDigest,
  object: sizedDigest.extend({ key: z.string() }),
  encryption: z.object({ format: z.literal('HSBK'), version: z.number().int(), keyId: z.string() }),
});

export type CatalogBackupManifest = z.infer<typeof catalogBackupManifestSchema>;
