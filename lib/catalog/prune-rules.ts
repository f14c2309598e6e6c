/**
 * What the daily catalog maintenance removes, one rule per kind of row. Rows that describe a
 * backup alone go with it (foreign keys with ON DELETE CASCADE, migration 018); the rules here
 * are for rows that outlive their subject by design — audit entries, notifications and their
 * deliveries, restore and hook runs, finished job records — and for the tombstones retention
 * leaves. A rule never takes the newest record of its kind for a backup or a database, so what
 * the console, the API and the CLI show for what is still kept does not change.
 */
import { z } from 'zod';

/** How long each kind of row is kept, in days (docs/configuration.md). */
export const catalogRetentionSchema = z
  .object({
    auditDays: z.number().int().min(1).max(36500),
    deliveryDays: z.number().int().min(1).max(36500),
    jobHistoryDays: z.number().int().min(1).max(36500),
    deletedBackupDays: z.number().int().min(1).max(36500),
  })
  .strict();
export type CatalogRetention = z.infer<typeof catalogRetentionSchema>;

/** The daily maintenance's settings: its cron (UTC; null: off) and the retention periods. */
export interface CatalogMaintenanceSettings {
  cron: string | null;
  retention: CatalogRetention;
}

export const defaultCatalogRetention: CatalogRetention = {
  auditDays: 365,
  deliveryDays: 90,
  jobHistoryDays: 180,
  deletedBackupDays: 30,
};

export interface PruneRule {
  /** Stable name, shown by `hindsight catalog prune` and in the maintenance outcome. */
  name: string;
  table: string;
  /** What goes, for people. */
  describes: string;
  /** Which setting dates the cut-off; null: the cut-off is now (e.g. an expired session). */
  keptFor: keyof CatalogRetention | null;
  /** Condition on the row `t`; `$1` is the cut-off time. */
  where: string;
}

export const pruneRules: readonly PruneRule[] = [
  {
    name: 'deleted-backups',
    table: 'backups',
    describes: 'backups deleted by retention (with their copies, restores and verifications)',
    keptFor: 'deletedBackupDays',
    where: `t.status = 'deleted' and t.deleted_at < $1`,
  },
  {
    name: 'failed-backups',
    table: 'backups',
    describes: 'failed or cancelled backups older than a newer backup of their database',
    keptFor: 'jobHistoryDays',
    where: `t.status in ('failed', 'cancelled') and t.started_at < $1
      and exists (select 1 from backups n where n.database_id = t.database_id and n.started_at > t.started_at)`,
  },
  {
    name: 'ended-base-backups',
    table: 'base_backups',
    describes: 'base backups deleted by retention or failed, that no increment builds on',
    keptFor: 'deletedBackupDays',
    where: `t.status in ('deleted', 'failed') and t.start_time < $1
      and not exists (select 1 from base_backups c where c.parent_id = t.id)`,
  },
  {
    name: 'restores',
    table: 'restores',
    describes: "finished restore runs, except each backup's newest",
    keptFor: 'jobHistoryDays',
    where: `t.status <> 'running' and t.started_at < $1
      and exists (select 1 from restores n where n.backup_id = t.backup_id and n.started_at > t.started_at)`,
  },
  {
    name: 'verifications',
    table: 'verifications',
    describes: 'finished verifications, except the newest of each backup and of each database',
    keptFor: 'jobHistoryDays',
    where: `t.status not in ('pending', 'running') and t.requested_at < $1
      and exists (select 1 from verifications n where n.database_id = t.database_id and n.requested_at > t.requested_at)
      and (t.backup_id is null or exists (select 1 from verifications n
             where n.backup_id = t.backup_id and n.requested_at > t.requested_at))`,
  },
  {
    name: 'restore-drills',
    table: 'restore_drills',
    describes: "finished restore drills, except each database's newest",
    keptFor: 'jobHistoryDays',
    where: `t.status <> 'running' and t.started_at < $1
      and exists (select 1 from restore_drills n where n.database_id = t.database_id and n.started_at > t.started_at)`,
  },
  {
    name: 'pitr-drills',
    table: 'pitr_drills',
    describes: "PITR drills, except each server's newest and the passed one its proven-up-to time comes from",
    keptFor: 'jobHistoryDays',
    where: `t.finished_at < $1
      and exists (select 1 from pitr_drills n where n.server_id = t.server_id and n.finished_at > t.finished_at)
      and (t.outcome <> 'passed' or exists (select 1 from pitr_drills n where n.server_id = t.server_id
             and n.outcome = 'passed' and (n.proves_until, n.id) > (t.proves_until, t.id)))`,
  },
  {
    name: 'hook-runs',
    table: 'hook_runs',
    describes: 'hook script runs',
    keptFor: 'jobHistoryDays',
    where: `t.finished_at < $1`,
  },
  {
    name: 'health-events',
    table: 'health_events',
    describes: "health transitions, except each database's newest",
    keptFor: 'jobHistoryDays',
    where: `t.at < $1
      and exists (select 1 from health_events n where n.database_id = t.database_id and n.at > t.at)`,
  },
  {
    name: 'notifications',
    table: 'notifications',
    describes: 'notifications whose deliveries have all ended (with their deliveries)',
    keptFor: 'deliveryDays',
    where: `t.created_at < $1 and t.planned_at is not null
      and not exists (select 1 from notification_deliveries d where d.notification_id = t.id and d.status = 'pending')`,
  },
  {
    name: 'audit',
    table: 'audit_log',
    describes: 'audit entries',
    keptFor: 'auditDays',
    where: `t.at < $1`,
  },
  {
    name: 'expired-sessions',
    table: 'sessions',
    describes: 'expired console sessions',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
  // The sign-in tables below hold only short-lived state; each row is dead once it has expired.
  {
    name: 'login-attempts',
    table: 'login_attempts',
    // A window lasts 15 minutes (services/access/types.ts); a day leaves room for a longer setting.
    describes: 'sign-in throttling counters whose window ended over a day ago',
    keptFor: null,
    where: `t.window_start < $1::timestamptz - interval '1 day'`,
  },
  {
    name: 'sign-in-challenges',
    table: 'auth_challenges',
    describes: 'expired second-factor and passkey challenges',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
  {
    name: 'oidc-logins',
    table: 'oidc_logins',
    describes: 'single sign-on attempts that never came back from the provider',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
  {
    name: 'password-resets',
    table: 'password_resets',
    describes: 'expired password reset links',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
  {
    name: 'setup-tokens',
    table: 'setup_tokens',
    describes: 'expired first-run setup tokens',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
  {
    // Accepted invitations stay: they are what lets `member add` reach a person.
    name: 'invitations',
    table: 'invitations',
    describes: 'invitations never accepted, expired longer ago than the job history is kept',
    keptFor: 'jobHistoryDays',
    where: `t.accepted_at is null and t.expires_at < $1`,
  },
  {
    name: 'expired-leases',
    table: 'base_backups_in_use',
    describes: 'expired leases of restores on base backups',
    keptFor: null,
    where: `t.expires_at < $1`,
  },
];

const DAY_MS = 24 * 3600_000;

/** The time before which a rule's rows go. */
export function cutoffOf(rule: PruneRule, retention: CatalogRetention, now: Date): Date {
  return rule.keptFor === null ? now : new Date(now.getTime() - retention[rule.keptFor] * DAY_MS);
}
