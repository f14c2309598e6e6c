/**
 * Which backups found in storage belong to a database being added: the pure rules, apart from the
 * storage reads (adopt-scan.ts). A manifest is plain JSON that whoever writes to the storage can
 * edit, so it is taken only for what can be checked against it: its own key, the object beside it,
 * and the server being added. Whether the object really is that backup is proved at restore, by
 * the identity authenticated in its header.
 */
import type pg from 'pg';
import { errorMessage } from '../errors.ts';
import { backupObjectKey, rolesObjectKey } from './ids.ts';
import { manifestSchema, type BackupManifest } from './manifest.ts';

/** The server a database is being added for, as far as it can be known. */
export interface AdoptionSource {
  /** The database name in the URL (`source.database` of a manifest). */
  database: string;
  /** The server's system identifier; undefined when there was no server to ask (--no-check) or it would not say. */
  systemIdentifier?: string;
}

export type MatchedBy = 'system-identifier' | 'source-database';

export type ManifestVerdict = { adopt: true; matchedBy: MatchedBy } | { adopt: false; reason: string };

/** A manifest larger than this is no manifest Hindsight wrote (a backup of 100 000 tables stays far below). */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

const BACKUP_ID_SOURCE = '\\d{8}T\\d{6}Z-[0-9a-f]{6}';

/** The backup id of `<database>/<backupId>.json`, or undefined for any other key. */
export function backupIdOfManifestKey(database: string, key: string): string | undefined {
  if (!key.startsWith(`${database}/`)) return undefined;
  const match = new RegExp(`^(${BACKUP_ID_SOURCE})\\.json$`).exec(key.slice(database.length + 1));
  return match?.[1];
}

/** The manifest in `text`, or why it is none. */
export function parseManifest(text: string): { manifest: BackupManifest } | { reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { reason: `not JSON (${errorMessage(error)})` };
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { reason: `not a backup manifest (${issue?.path.join('.') || 'root'}: ${issue?.message})` };
  }
  return { manifest: parsed.data };
}

/** Does the manifest found under `<name>/<backupId>.json` describe a backup of this server's database? */
export function matchManifest(
  manifest: BackupManifest,
  expected: { name: string; backupId: string; source: AdoptionSource },
): ManifestVerdict {
  const { name, backupId, source } = expected;
  if (manifest.database !== name) return { adopt: false, reason: `it describes database "${manifest.database}"` };
  if (manifest.backupId !== backupId) return { adopt: false, reason: `it describes backup ${manifest.backupId}` };
  if (manifest.object.key !== backupObjectKey(name, backupId))
    return { adopt: false, reason: `it points at object '${manifest.object.key}' instead of its own` };
  if (manifest.roles && manifest.roles.key !== rolesObjectKey(name, backupId))
    return { adopt: false, reason: `it points at roles object '${manifest.roles.key}' instead of its own` };
  const taken = manifest.source.systemIdentifier;
  if (source.systemIdentifier !== undefined && taken !== undefined) {
    return taken === source.systemIdentifier
      ? { adopt: true, matchedBy: 'system-identifier' }
      : {
          adopt: false,
          reason: `it was taken from another server (system identifier ${taken}; this one is ${source.systemIdentifier})`,
        };
  }
  // An older manifest records no system identifier, and without a server there is none to compare:
  // the database name in the URL is all that can be matched.
  return manifest.source.database === source.database
    ? { adopt: true, matchedBy: 'source-database' }
    : {
        adopt: false,
        reason: `it was taken from database "${manifest.source.database}", not "${source.database}"`,
      };
}

/** The server's system identifier, or undefined when the role may not read pg_control_system(). */
export async function readSystemIdentifier(client: pg.Client): Promise<string | undefined> {
  try {
    const { rows } = await client.query<{ id: string }>(
      'select system_identifier::text as id from pg_control_system()',
    );
    return rows[0]?.id;
  } catch {
    return undefined;
  }
}
