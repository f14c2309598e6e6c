import { z } from 'zod';
import { tableChecksumSchema } from '../pg/table-checksums.ts';

/**
 * The manifest stored beside every backup object. It is plain JSON, readable without the key, so
 * that an operator can tell what a file is and check it before decrypting. It holds no secret.
 */
export const manifestSchema = z.object({
  format: z.literal('hindsight-logical-backup'),
  formatVersion: z.literal(1),
  backupId: z.string(),
  database: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  source: z.object({
    host: z.string(),
    port: z.number(),
    database: z.string(),
    serverVersion: z.string(),
    sizeBytes: z.number(),
    /**
     * The server's `system_identifier` (pg_control_system()), which tells one cluster from another
     * that happens to hold a database of the same name. Absent in manifests of older backups, and
     * when the backup role may not read it.
     */
    systemIdentifier: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
  }),
  tool: z.object({
    name: z.literal('pg_dump'),
    version: z.string(),
    /**
     * `custom`: the decrypted object is a pg_dump custom-format archive (or its zstd stream).
     * `directory`: it is a tar of a pg_dump directory archive written by `jobs` jobs, data files
     * first and toc.dat last (docs/backup-format.md); absent in manifests before parallel dumps.
     */
    format: z.enum(['custom', 'directory']),
    /** pg_dump's `--jobs` for a directory archive; a restore runs pg_restore with as many. */
    jobs: z.number().int().min(1).max(16).optional(),
    compression: z
      .object({
        algorithm: z.enum(['zstd', 'gzip']),
        level: z.number(),
        /**
         * `inside`: pg_dump compressed its archive itself, and the decrypted object is the archive.
         * `outside`: pg_dump wrote it uncompressed into the zstd program, and the decrypted object is
         * that zstd stream (lib/backup/compress.ts). Absent in manifests of backups taken before
         * backups were compressed outside pg_dump: those were compressed inside.
         */
        where: z.enum(['inside', 'outside']).optional(),
      })
      .refine((c) => c.where !== 'outside' || c.algorithm === 'zstd', {
        message: 'a dump compressed outside pg_dump is compressed with zstd',
      }),
  }),
  snapshot: z.string(),
  dump: z.object({ sizeBytes: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  object: z.object({ key: z.string(), sizeBytes: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  /**
   * The roles object (lib/backup/roles.ts): the server roles the database needs, encrypted like the
   * dump. Absent in manifests of backups taken before backups kept their roles.
   */
  roles: z.object({ key: z.string(), sizeBytes: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  encryption: z.object({
    format: z.literal('HSBK'),
    version: z.number(),
    algorithm: z.literal('AES-256-GCM'),
    kdf: z.literal('HKDF-SHA256'),
    keyId: z.string(),
    chunkSize: z.number(),
    header: z.string(),
  }),
  /** Exact row counts in the dump's snapshot, and each table's content checksum (absent before checksums existed). */
  tables: z.array(
    z.object({
      schema: z.string(),
      table: z.string(),
      rows: z.number().int().nonnegative(),
      checksum: tableChecksumSchema.optional(),
    }),
  ),
});

export type BackupManifest = z.infer<typeof manifestSchema>;

/** How the decrypted object relates to the archive pg_restore reads (old manifests: inside). */
export function compressedWhere(manifest: Pick<BackupManifest, 'tool'>): 'inside' | 'outside' {
  return manifest.tool.compression.where ?? 'inside';
}

/** Whether the decrypted object is a tar of a pg_dump directory archive (a parallel dump). */
export const isDirectoryArchive = (manifest: Pick<BackupManifest, 'tool'>): boolean =>
  manifest.tool.format === 'directory';

/** pg_restore's jobs for a backup: what pg_dump ran with, one for a custom-format archive. */
export const restoreJobs = (manifest: Pick<BackupManifest, 'tool'>): number =>
  isDirectoryArchive(manifest) ? (manifest.tool.jobs ?? 1) : 1;
