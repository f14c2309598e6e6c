import type { AccessService } from './access.ts';

const DAY_MS = 24 * 3600_000;

/**
 * Deletes audit entries older than HINDSIGHT_AUDIT_RETENTION_DAYS, and expired sessions, once at
 * start and then every 24 hours, from the console process. Several console processes may each
 * run it: the deletes are idempotent.
 */
export function startAuditPurge(access: AccessService, retentionDays: number, log: (msg: string) => void): () => void {
  const purge = async () => {
    try {
      const removed = await access.purgeAudit(retentionDays);
      if (removed > 0) log(`audit log: removed ${removed} entries older than ${retentionDays} days`);
    } catch (error) {
      log(`audit purge failed (retried in 24 h): ${(error as Error).message}`);
    }
  };
  void purge();
  const timer = setInterval(() => void purge(), DAY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
