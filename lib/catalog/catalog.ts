import pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { HindsightError } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { createAccessStore } from './access.ts';
import { createSecondFactorStore } from './second-factors.ts';
import { baseBackupsInUse, holdBaseBackups, releaseBaseBackups } from './base-backups-in-use.ts';
import { runningObjectJobs } from './object-jobs.ts';
import { adoptBackup, storedBackupsOf } from './adopted-backups.ts';
import { createApiTokenStore } from './api-tokens.ts';
import {
  beginBackup,
  completeBackup,
  copiesOf,
  endBackup,
  getBackup,
  latestCompleteBackup,
  listBackups,
  recordRewrittenObject,
  restorableBackups,
  settleBackupStatus,
} from './backups.ts';
import { recordCopy, removeCopy, setStorageRetention, storageRetentionOf } from './copies.ts';
import {
  addDatabase,
  databaseTarget,
  findDatabase,
  getDatabase,
  listDatabases,
  listDatabasePage,
  removeDatabase,
  renameDatabase,
  setDatabaseConnection,
  setDatabaseRole,
  setDestinations,
  updateDatabaseSettings,
  updateSchedule,
} from './databases.ts';
import { catalogClock } from './clock.ts';
import { bind } from './db.ts';
import { createHealthStore } from './health.ts';
import { createHookStore } from './hooks.ts';
import { migrate, migrationsApplied } from './migrate.ts';
import { createIdentityProviderStore } from './identity-providers.ts';
import { createInvitationStore } from './invitations.ts';
import { createNotifierStore } from './notifiers.ts';
import { createMaintenanceStore } from './prune.ts';
import { createReconcileStore } from './reconcile.ts';
import { markBackupDeleted } from './prune-backup.ts';
import { backupsBeingRestored, beginRestore, endRestore, recordRestoreSource } from './restores.ts';
import {
  refuseUnknownSealedColumns,
  resealAllSecrets,
  sealedSecretsByKey,
  withRotationLock,
} from './sealed-columns.ts';
import { createServerStore } from './servers.ts';
import { createRebuildStore } from './rebuild/store.ts';
import { createRestoreDrillStore } from './restore-drills.ts';
import { readDatabaseFacts } from './status.ts';
import { createKmsKeyStore } from './kms-keys.ts';
import { createAgentRecipientStore } from './agent-recipients.ts';
import { completeCopiesIn, getStorage, listStorages, removeStorage, storageConfig, upsertStorage } from './storages.ts';
import { createVerificationStore } from './verifications.ts';
import { createWalStore } from './wal.ts';

export type { BackupRecord, BackupResult, BackupStatus } from './backups.ts';
export type { BackupCopy, CopyStatus, StorageRetention } from './copies.ts';
export type { DatabaseRecord, DatabaseSettings, NewDatabase } from './databases.ts';
export type { RestoreOutcome, RestoreStatus, RestoreSummary } from './restores.ts';
export type { StorageRecord } from './storages.ts';

/** Secret-key rotation's part in the catalog: every sealed column, re-sealed under one lock. */
function createSecretsStore(pool: pg.Pool) {
  return {
    ...bind(pool, { refuseUnknownSealedColumns, sealedSecretsByKey }),
    resealAll: (keys: Keyring['resolve'], to: SecretKey) => resealAllSecrets(pool, keys, to),
    withRotationLock: <T>(work: () => Promise<T>) => withRotationLock(pool, work),
  };
}

/**
 * The metadata database, one repository per record type (lib/catalog/<record>.ts) composed into
 * the object the other layers receive. Secrets are sealed with the secret key before they reach a row.
 */
export function createCatalog(pool: pg.Pool, keys: Keyring) {
  return {
    /**
     * @deprecated The raw pool, for tests that set up rows directly and for the few callers that
     * still run their own SQL (eslint.config.js lists them); add a repository function instead.
     */
    pool,
    close: () => pool.end(),
    verifications: createVerificationStore(pool),
    restoreDrills: createRestoreDrillStore(pool, keys),
    health: createHealthStore(pool),
    hooks: createHookStore(pool),
    access: createAccessStore(pool, keys),
    secondFactors: createSecondFactorStore(pool, keys),
    apiTokens: createApiTokenStore(pool),
    notifiers: createNotifierStore(pool, keys),
    identityProviders: createIdentityProviderStore(pool, keys),
    invitations: createInvitationStore(pool),
    wal: createWalStore(pool, keys),
    rebuild: createRebuildStore(pool),
    secrets: createSecretsStore(pool),
    servers: createServerStore(pool, keys),
    kmsKeys: createKmsKeyStore(pool, keys),
    agentRecipients: createAgentRecipientStore(pool),
    maintenance: createMaintenanceStore(pool),
    reconcile: createReconcileStore(pool),
    ...bind(
      { pool, keys },
      {
        upsertStorage,
        storageConfig,
        addDatabase,
        setDatabaseRole,
        setDatabaseConnection,
        databaseTarget,
        renameDatabase,
      },
    ),
    ...bind(pool, {
      catalogClock,
      completeCopiesIn,
      getStorage,
      listStorages,
      removeStorage,
      setDestinations,
      updateDatabaseSettings,
      updateSchedule,
      removeDatabase,
      adoptBackup,
      storedBackupsOf,
      getDatabase,
      findDatabase,
      listDatabases,
      listDatabasePage,
      beginBackup,
      copiesOf,
      recordCopy,
      removeCopy,
      setStorageRetention,
      storageRetentionOf,
      completeBackup,
      recordRewrittenObject,
      settleBackupStatus,
      endBackup,
      getBackup,
      latestCompleteBackup,
      listBackups,
      backupsBeingRestored,
      restorableBackups,
      markBackupDeleted,
      recordRestoreSource,
      beginRestore,
      endRestore,
      holdBaseBackups,
      releaseBaseBackups,
      baseBackupsInUse,
      runningObjectJobs,
      databaseFacts: readDatabaseFacts,
      migrationsApplied,
    }),
  };
}

export type Catalog = ReturnType<typeof createCatalog>;

export function createCatalogPool(target: PgTarget | string): pg.Pool {
  const options =
    typeof target === 'string'
      ? { connectionString: target }
      : {
          host: target.host,
          port: target.port,
          database: target.database,
          user: target.user,
          password: target.password,
        };
  const pool = new pg.Pool({ ...options, max: 5, application_name: 'hindsight-catalog' });
  pool.on('error', () => {
    /* an idle client lost its connection; the next query reconnects */
  });
  return pool;
}

/**
 * Connects to the catalog and (unless `migrate` is false) applies pending migrations: the pool
 * is created and held here, never by the caller.
 */
export async function openCatalog(
  target: PgTarget | string,
  keys: Keyring,
  options: { migrate?: boolean } = {},
): Promise<Catalog> {
  const pool = createCatalogPool(target);
  try {
    if (options.migrate !== false) await migrate(pool);
  } catch (error) {
    await pool.end();
    if ((error as { code?: string }).code === 'ECONNREFUSED') {
      throw new HindsightError(
        'unreachable',
        'catalog database is not running (connection refused): start Hindsight with npm start, or check DATABASE_URL',
      );
    }
    throw error;
  }
  return createCatalog(pool, keys);
}
