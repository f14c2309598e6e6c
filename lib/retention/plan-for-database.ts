import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import { HindsightError } from '../errors.ts';
import { lockDays, lockedUntilAfter } from '../storage/locked.ts';
import { planRetention, type RetentionPlan } from './planner.ts';
import { parseRetentionPolicy, type RetentionPolicy } from './policy.ts';
import { gatherPitrFacts, type PitrArchive } from './pitr-facts.ts';
import { planPerStorage, type StorageCopies } from './per-storage.ts';
import type { PlannedBackup } from './plan-types.ts';

/** A policy tried (dry run) or saved for one storage instead of the one it has. */
export interface StoragePolicyOverride {
  storage: string;
  policy: unknown;
}

export interface DatabaseRetentionPlan {
  /** The database's policy; null when only its storages have policies of their own. */
  policy: RetentionPolicy | null;
  plan: RetentionPlan;
  archive: PitrArchive | null;
}

const noPolicy = (database: string) =>
  new HindsightError(
    'bad_input',
    `database "${database}" has no retention policy (hindsight retention ${database} --policy '{"kind":"gfs","daily":7,"weekly":4,"monthly":12}')`,
  );

/** Days each storage holding a copy locks its objects (S3 Object Lock), from the settings without secrets. */
async function lockDaysOf(catalog: Catalog, backups: BackupRecord[]): Promise<Map<string, number>> {
  const names = [...new Set(backups.flatMap((b) => b.copies.map((c) => c.storageName)))];
  return new Map(
    await Promise.all(names.map(async (name) => [name, lockDays(await catalog.getStorage(name))] as const)),
  );
}

/**
 * The latest date a storage holding a copy refuses its deletion until. Derived from the settings of
 * today: the driver checks the storage's own date again before it removes anything.
 */
function latestLock(backup: BackupRecord, finishedAt: Date, locks: Map<string, number>): Date | undefined {
  const dates = backup.copies
    .map((c) => lockedUntilAfter(finishedAt, locks.get(c.storageName) ?? 0))
    .filter((d): d is Date => d !== undefined);
  return dates.length === 0 ? undefined : new Date(Math.max(...dates.map((d) => d.getTime())));
}

/** The storages of the database with their overrides (the tried one in place of the saved one). */
async function storageCopies(
  catalog: Catalog,
  database: string,
  backups: BackupRecord[],
  tried: StoragePolicyOverride | undefined,
): Promise<StorageCopies[]> {
  const storages = await catalog.storageRetentionOf(database);
  if (tried !== undefined && !storages.some((s) => s.storageName === tried.storage)) {
    throw new HindsightError(
      'not_found',
      `storage "${tried.storage}" is not a destination of database "${database}" (hindsight db show ${database} lists them)`,
    );
  }
  const locks = await lockDaysOf(catalog, backups);
  return storages.map((s) => {
    const raw = s.storageName === tried?.storage ? tried.policy : s.retentionPolicy;
    return {
      storage: s.storageName,
      lockDays: locks.get(s.storageName) ?? 0,
      policy: raw === null || raw === undefined ? null : parseRetentionPolicy(raw),
      backupIds: backups
        .filter((b) => b.copies.some((c) => c.storageName === s.storageName && c.status === 'complete'))
        .map((b) => b.id),
    };
  });
}

/**
 * Gathers the facts the planner needs from the catalog (backups, their copies, their verifications,
 * the restores and verifications in flight, and the PITR archive when there is one: pitr-facts.ts)
 * and plans: by the database's policy, then per storage where a storage has its own (per-storage.ts).
 * The same function serves the workflow, the dry run and the run's deletion of the archive.
 * `policyOverride` is tried for the database, or for `storage` when one is named. `now` is read from
 * the catalog's clock (catalog.catalogClock), which dated every backup: on this host's, a worker
 * running ahead would see backups older than they are.
 */
export async function planForDatabase(
  catalog: Catalog,
  database: string,
  now: Date,
  policyOverride?: unknown,
  storage?: string,
): Promise<DatabaseRetentionPlan> {
  const db = await catalog.getDatabase(database);
  const tried = storage === undefined || policyOverride === undefined ? undefined : { storage, policy: policyOverride };
  const raw = storage === undefined ? (policyOverride ?? db.retentionPolicy) : db.retentionPolicy;
  const policy = raw === null || raw === undefined ? null : parseRetentionPolicy(raw);
  const [backups, verified, verifying, restoring] = await Promise.all([
    catalog.restorableBackups(database),
    catalog.verifications.latestPerBackup(database),
    catalog.verifications.backupsInUse(database),
    catalog.backupsBeingRestored(database),
  ]);
  const storages = await storageCopies(catalog, database, backups, tried);
  const overridden = storages.some((s) => s.policy !== null);
  if (policy === null && !overridden) throw noPolicy(database);
  const locks = await lockDaysOf(catalog, backups);
  const planned: PlannedBackup[] = backups.map((b) => {
    const finishedAt = b.finishedAt ?? b.startedAt;
    const until = latestLock(b, finishedAt, locks);
    return {
      id: b.id,
      finishedAt,
      status: b.status as 'complete' | 'partial',
      verified: verified.get(b.id)?.status === 'successful',
      inUse: verifying.has(b.id) || restoring.has(b.id),
      ...(until ? { lockedUntil: until } : {}),
    };
  });
  // The PITR archive is pruned by the database's policy only: WAL serves every copy alike.
  const archive = policy === null ? null : await gatherPitrFacts(catalog, database, policy);
  const databasePlan =
    policy === null
      ? null
      : planRetention({ now, policy, backups: planned, ...(archive === null ? {} : { pitr: archive.facts }) });
  if (!overridden) return { policy, plan: databasePlan!, archive };
  const perStorage = planPerStorage({ now, backups: planned, storages, databasePlan });
  const summary = [
    ...(databasePlan ? [databasePlan.summary] : []),
    ...perStorage.storages.map((s) => `${s.storage}: ${s.summary}`),
  ].join('; ');
  const plan: RetentionPlan = {
    keepBaseBackups: [],
    deleteBaseBackups: [],
    deleteWalBefore: null,
    ...databasePlan,
    ...perStorage,
    summary,
  };
  return { policy, plan, archive };
}
