import type { Catalog } from '../catalog/catalog.ts';
import { HindsightError } from '../errors.ts';
import { planRetention, type RetentionPlan } from './planner.ts';
import { parseRetentionPolicy, type RetentionPolicy } from './policy.ts';

/**
 * Gathers the facts the planner needs from the catalog (backups, their verifications, the restores
 * and verifications in flight) and plans. The same function serves the workflow and the dry run.
 */
export async function planForDatabase(
  catalog: Catalog,
  database: string,
  now: Date,
  policyOverride?: unknown,
): Promise<{ policy: RetentionPolicy; plan: RetentionPlan }> {
  const db = await catalog.getDatabase(database);
  const raw = policyOverride ?? db.retentionPolicy;
  if (raw === null || raw === undefined) {
    throw new HindsightError(
      'bad_input',
      `database "${database}" has no retention policy (hindsight retention ${database} --policy '{"kind":"gfs","daily":7,"weekly":4,"monthly":12}')`,
    );
  }
  const policy = parseRetentionPolicy(raw);
  const [backups, verified, verifying, restoring] = await Promise.all([
    catalog.restorableBackups(database),
    catalog.verifications.latestPerBackup(database),
    catalog.verifications.backupsInUse(database),
    catalog.backupsBeingRestored(database),
  ]);
  const plan = planRetention({
    now,
    policy,
    backups: backups.map((b) => ({
      id: b.id,
      finishedAt: b.finishedAt ?? b.startedAt,
      status: b.status as 'complete' | 'partial',
      verified: verified.get(b.id)?.status === 'successful',
      inUse: verifying.has(b.id) || restoring.has(b.id),
    })),
  });
  return { policy, plan };
}
