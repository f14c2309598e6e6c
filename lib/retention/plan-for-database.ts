import type { Catalog } from '../catalog/catalog.ts';
import { HindsightError } from '../errors.ts';
import { planRetention, type RetentionPlan } from './planner.ts';
import { parseRetentionPolicy, type RetentionPolicy } from './policy.ts';
import { gatherPitrFacts, type PitrArchive } from './pitr-facts.ts';

/**
 * Gathers the facts the planner needs from the catalog (backups, their verifications, the restores
 * and verifications in flight, and the PITR archive when there is one: pitr-facts.ts) and plans.
 * The same function serves the workflow, the dry run and the run's deletion of the archive.
 */
export async function planForDatabase(
  catalog: Catalog,
  database: string,
  now: Date,
  policyOverride?: unknown,
): Promise<{ policy: RetentionPolicy; plan: RetentionPlan; archive: PitrArchive | null }> {
  const db = await catalog.getDatabase(database);
  const raw = policyOverride ?? db.retentionPolicy;
  if (raw === null || raw === undefined) {
    throw new HindsightError(
      'bad_input',
      `database "${database}" has no retention policy (hindsight retention ${database} --policy '{"kind":"gfs","daily":7,"weekly":4,"monthly":12}')`,
    );
  }
  const policy = parseRetentionPolicy(raw);
  const [backups, verified, verifying, restoring, archive] = await Promise.all([
    catalog.restorableBackups(database),
    catalog.verifications.latestPerBackup(database),
    catalog.verifications.backupsInUse(database),
    catalog.backupsBeingRestored(database),
    gatherPitrFacts(catalog, database, policy),
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
    ...(archive === null ? {} : { pitr: archive.facts }),
  });
  return { policy, plan, archive };
}
