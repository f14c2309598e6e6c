/**
 * `hindsight restore <db> --identity <file> (--to <url> | --to-database <name>) [--backup <id>]`:
 * a logical restore run in this process, on the host that holds the identity file. The private
 * key is read here and used here: it never goes into a workflow's input or history, the catalog or
 * a log. The object is read from a storage that has it, held to the catalog's checksums and the
 * manifest, decrypted and fed to pg_restore by the same code the worker's restore runs.
 */
import { chooseBackupToRestore } from '../lib/backup/restore-policy.ts';
import { prepareRestoreTarget, streamRestoreFromStorage, type RestoreResult } from '../lib/backup/restore.ts';
import { readRolesObject } from '../lib/backup/roles-object.ts';
import type { OwnersOption } from '../lib/backup/roles-restore.ts';
import { wrappedKeyRecord } from '../lib/crypto/object-key-record.ts';
import type { KeySources } from '../lib/crypto/wrap/registry.ts';
import { readIdentityFile, type X25519Identity } from '../lib/crypto/wrap/x25519-keys.ts';
import { HindsightError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { describeTarget, parsePgUrl, type PgTarget } from '../lib/pg/connection.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { openRecordedBackup, readableCopies, withDrivers } from '../activities/storage-access.ts';
import { PRIVILEGED_ROLES_REFUSAL } from '../services/restores/start.ts';
import { requireInputFile } from './file-args.ts';
import type { Session } from './session.ts';

export interface IdentityRestoreRequest {
  database: string;
  backupId?: string | undefined;
  to: { url: string } | { database: string };
  identityFile: string;
  withOwners?: boolean | undefined;
  privilegedRoles?: boolean | undefined;
}

export interface IdentityRestoreOutcome {
  backupId: string;
  storageName: string;
  target: string;
  tablesChecked: number;
  rowsChecked: number;
  ownership: RestoreResult['ownership'];
}

/** The identities in the file, which must exist and hold at least one private key. */
export async function identitiesFrom(file: string): Promise<X25519Identity[]> {
  await requireInputFile(
    file,
    '--identity file',
    'give the identity file hindsight key generate wrote for the recipient the database is encrypted for',
  );
  return readIdentityFile(file);
}

/**
 * Refuses, before a byte reaches the target, an object encrypted for a recipient whose private key
 * neither the identity file nor this host's keyring holds, naming both sides.
 */
async function requireRecipientHeld(
  driver: StorageDriver,
  objectKey: string,
  backupId: string,
  identityFile: string,
  held: readonly X25519Identity[],
): Promise<void> {
  const record = await wrappedKeyRecord(driver, objectKey);
  if (record?.kind !== 'x25519' || held.some((i) => i.recipient === record.keyRef)) return;
  const inFile = held.filter((i) => i.source === identityFile).map((i) => i.recipient);
  throw new HindsightError(
    'access_denied',
    `backup ${backupId} is encrypted for recipient ${record.keyRef}; the identity ${identityFile} holds ${inFile.join(', ')}: give the identity file of recipient ${record.keyRef}`,
  );
}

/** Where to restore: a URL as given, or a database of that name on the source's server. */
async function resolveTarget(session: Session, request: IdentityRestoreRequest): Promise<PgTarget> {
  if ('url' in request.to) return parsePgUrl(request.to.url);
  const source = await session.runtime.catalog.databaseTarget(request.database);
  return { ...source, database: request.to.database };
}

/** Authorized as any restore (`restore.start`, the instance privilege for privileged roles) and audited. */
export async function restoreWithIdentity(
  session: Session,
  request: IdentityRestoreRequest,
): Promise<IdentityRestoreOutcome> {
  const { guard } = session.services.ctx;
  const { actor } = session;
  const granted = await guard.require(actor, { database: request.database }, 'restore.start');
  if (request.privilegedRoles)
    await guard.authz.authorizeInstance(actor, granted.workspaceId, 'restore.start', PRIVILEGED_ROLES_REFUSAL, {
      type: 'database',
      name: request.database,
    });
  if (request.backupId) {
    const found = await guard.access.backupWorkspace(request.backupId);
    if (!found || !guard.can(actor, found.workspaceId, 'history.read'))
      throw new HindsightError(
        'not_found',
        `backup "${request.backupId}" does not exist: hindsight backups lists them`,
      );
  }
  const identities = await identitiesFrom(request.identityFile);
  const to = 'url' in request.to ? { url: describeTarget(parsePgUrl(request.to.url)) } : request.to;
  return guard.audited(actor, granted, 'restore.start', () => restoreHere(session, request, identities), {
    after: (r) => ({ backupId: r.backupId, to, withIdentity: true }),
  });
}

async function restoreHere(
  session: Session,
  request: IdentityRestoreRequest,
  identities: X25519Identity[],
): Promise<IdentityRestoreOutcome> {
  const { catalog, keyring } = session.runtime;
  const backupId = await chooseBackupToRestore(catalog, request.database, request.backupId);
  const backup = await catalog.getBackup(backupId);
  const held = [...keyring.identities(), ...identities];
  const key: KeySources = { ...keyring.decryption(), identities: held };
  const target = await resolveTarget(session, request);
  const label = `restore target of ${request.database}`;
  const logger = createLogger('hindsight-restore');
  return withDrivers(catalog, await readableCopies(catalog, backupId, 1), async (sources) => {
    if (sources[0] && backup.objectKey)
      await requireRecipientHeld(sources[0].driver, backup.objectKey, backupId, request.identityFile, held);
    await prepareRestoreTarget(label, target);
    const opened = await openRecordedBackup(sources, request.database, backup, logger);
    let owners: OwnersOption | undefined;
    try {
      owners = request.withOwners ? await ownersOf(opened, key, request.privilegedRoles === true) : undefined;
    } catch (error) {
      opened.object.destroy();
      throw error;
    }
    const result = await streamRestoreFromStorage({
      manifest: opened.manifest,
      object: opened.object,
      expect: opened.expect,
      label,
      key,
      target,
      owners,
    });
    if (result.mismatches.length > 0) {
      const listed = result.mismatches.map(
        (m) => `${m.schema}.${m.table}: expected ${m.expected ?? 'absent'}, restored ${m.actual ?? 'absent'}`,
      );
      throw new HindsightError(
        'integrity',
        `restored data differs from backup ${backupId} in ${listed.length} table(s): ${listed.join('; ')}`,
      );
    }
    return {
      backupId,
      storageName: opened.storageName,
      target: describeTarget(target),
      tablesChecked: result.tables.length,
      rowsChecked: result.rowsChecked,
      ownership: result.ownership,
    };
  });
}

/** The backup's roles, for a restore with owners; a backup taken before backups kept them is refused. */
async function ownersOf(
  opened: Awaited<ReturnType<typeof openRecordedBackup>>,
  key: KeySources,
  privileged: boolean,
): Promise<OwnersOption> {
  const roles = await readRolesObject(opened.driver, opened.manifest, key);
  if (!roles)
    throw new HindsightError(
      'bad_input',
      `backup ${opened.manifest.backupId} was taken before backups kept their roles, so its owners and grants cannot be restored: restore it without --with-owners`,
    );
  return { roles, privileged };
}
