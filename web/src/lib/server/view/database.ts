import type { BackupRecord } from '../../../../../lib/catalog/catalog.ts';
import type { HealthEvent } from '../../../../../lib/catalog/health.ts';
import { HindsightError } from '../../../../../lib/errors.ts';
import { describePolicy, type RetentionPlan } from '../../../../../lib/retention/planner.ts';
import { parseRetentionPolicy, type RetentionPolicy } from '../../../../../lib/retention/policy.ts';
import type { VerificationSummary } from '../../../../../lib/verify/report.ts';
import type { Action } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import type { LiveJob } from '../../../../../services/status/jobs.ts';
import { workflowUrl } from '../../../../../temporal/client.ts';
import { verifierWorkflowId } from '../../../../../temporal/contracts/verify.ts';
import { workflowLinkBase } from './backups.ts';
import type { ActorRef, ConsoleBackup } from './types.ts';
import { drillView, type ConsoleDrillView } from './restore-drill.ts';
import { createStorageRetentionServices, type ConsoleStorageRetentionServices } from './storage-retention.ts';

export type { LiveJob } from '../../../../../services/status/jobs.ts';

/** One point of the size and duration charts: a finished backup. */
export interface BackupPoint {
  id: string;
  finishedAt: string;
  sizeBytes: number;
  dumpBytes: number | null;
  durationMs: number;
}

/** A stretch of time in one health state. */
export interface UptimeSegment {
  from: string;
  to: string;
  status: 'up' | 'down' | 'unknown';
}

export interface UptimeWindow {
  label: string;
  from: string;
  to: string;
  /** Share of the time with a known state that the database was up; null when nothing is known. */
  upRatio: number | null;
  downMs: number;
  segments: UptimeSegment[];
}

/** The database page as plain data: no password, no secret of any storage. */
export interface ConsoleDatabaseView {
  database: {
    name: string;
    host: string;
    port: number;
    dbname: string;
    username: string;
    sslmode: string | null;
    workspace: string;
    storages: Array<{ name: string; type: string }>;
    schedule: string | null;
    timezone: string;
    verifyAfterBackup: boolean;
    verifySchedule: string | null;
    retentionPolicy: RetentionPolicy | null;
    retentionSummary: string | null;
    healthIntervalSeconds: number;
  };
  /** Newest first. */
  backups: ConsoleBackup[];
  /** The last 30 finished complete or partial backups, oldest first. */
  points: BackupPoint[];
  /** The measured time to a usable database of the last 30 verifications that recorded it, oldest first. */
  restorePoints: Array<{ id: string; finishedAt: string; seconds: number }>;
  /** The restore drill into a real server: settings, newest drill, and its measured times. */
  drill: ConsoleDrillView;
  uptime: { current: 'up' | 'down' | 'unknown'; since: string | null; windows: UptimeWindow[] };
  /** Running jobs at load time, so the page shows them without JavaScript. */
  jobs: LiveJob[];
  /** What the viewer's role lets them do here: the page offers only these buttons. */
  allowed: {
    backup: boolean;
    cancel: boolean;
    verify: boolean;
    schedule: boolean;
    retention: boolean;
    restore: boolean;
    /** Download a backup (decrypted or as stored): the guard decides per request too. */
    download: boolean;
    /** Copy backups into another storage of the workspace. */
    copy: boolean;
  };
  /** The storages of the database's workspace that backups can be copied into. */
  copyTargets: Array<{ name: string; type: string }>;
  verifications: Array<{
    id: string;
    backupId: string | null;
    status: string;
    trigger: string;
    requestedAt: string;
    finishedAt: string | null;
    reason: string | null;
  }>;
  temporalUiUrl: string;
  generatedAt: string;
}

export interface ConsoleRetentionPlan {
  policy: RetentionPolicy;
  description: string;
  summary: string;
  keep: Array<{ id: string; finishedAt: string | null; sizeBytes: number | null; reasons: string[] }>;
  delete: Array<{ id: string; finishedAt: string | null; sizeBytes: number | null; reason: string }>;
  /** The PITR archive's part: base backups with reasons, per timeline the WAL to delete, or why none may go. */
  archive?: Pick<RetentionPlan, 'keepBaseBackups' | 'deleteBaseBackups' | 'walCuts' | 'deleteHistories' | 'walRefusal'>;
}

export interface ConsoleVerificationView {
  verification: VerificationSummary;
  backup: {
    id: string;
    startedAt: string;
    finishedAt: string | null;
    sizeBytes: number | null;
    dumpBytes: number | null;
    status: string;
  } | null;
  workflowUrl: string | null;
  temporalUiUrl: string;
}

export interface ConsoleDatabaseServices extends ConsoleStorageRetentionServices {
  view(actor: ActorRef, database: string): Promise<ConsoleDatabaseView>;
  /** The running jobs of the database with their workflows' live progress. */
  jobs(actor: ActorRef, database: string): Promise<LiveJob[]>;
  /** One backup's progress, also after it ended (the last event of a job a client watched). */
  backupProgress(actor: ActorRef, backupId: string): Promise<LiveJob>;
  setSchedule(actor: ActorRef, database: string, cron: string | null, timezone: string): Promise<void>;
  /** The dry run: what the policy would keep and delete now, and why; nothing is deleted. */
  retentionPreview(actor: ActorRef, database: string, policy: unknown): Promise<ConsoleRetentionPlan>;
  saveRetention(actor: ActorRef, database: string, policy: unknown): Promise<void>;
  cancelBackup(actor: ActorRef, database: string, backupId: string): Promise<void>;
  verification(actor: ActorRef, id: string): Promise<ConsoleVerificationView>;
}

const HOUR_MS = 3_600_000;

/** Up/down stretches of a window from the transitions (newest first, as the catalog lists them). */
export function uptimeWindow(label: string, events: HealthEvent[], from: Date, to: Date): UptimeWindow {
  const ordered = [...events].sort((a, b) => a.at.getTime() - b.at.getTime());
  let status: UptimeSegment['status'] = 'unknown';
  for (const e of ordered) if (e.at <= from) status = e.status;
  const segments: UptimeSegment[] = [];
  let cursor = from;
  for (const e of ordered) {
    if (e.at <= from || e.at > to) continue;
    if (e.status === status) continue;
    if (e.at > cursor) segments.push({ from: cursor.toISOString(), to: e.at.toISOString(), status });
    cursor = e.at;
    status = e.status;
  }
  if (to > cursor) segments.push({ from: cursor.toISOString(), to: to.toISOString(), status });
  const length = (s: UptimeSegment) => Date.parse(s.to) - Date.parse(s.from);
  const upMs = segments.filter((s) => s.status === 'up').reduce((sum, s) => sum + length(s), 0);
  const downMs = segments.filter((s) => s.status === 'down').reduce((sum, s) => sum + length(s), 0);
  return {
    label,
    from: from.toISOString(),
    to: to.toISOString(),
    upRatio: upMs + downMs > 0 ? upMs / (upMs + downMs) : null,
    downMs,
    segments,
  };
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** A backup as the page shows it, its workflow linked under `uiUrl` (none when null: workflowLinkBase). */
type ToBackup = (b: BackupRecord, uiUrl: string | null, v?: VerificationSummary) => ConsoleBackup;

/** The last 30 finished complete or partial backups with a size, oldest first (the charts' points). */
function chartPoints(backups: BackupRecord[]): BackupPoint[] {
  return backups
    .filter((b) => (b.status === 'complete' || b.status === 'partial') && b.finishedAt && b.sizeBytes !== null)
    .slice(0, 30)
    .reverse()
    .map((b) => ({
      id: b.id,
      finishedAt: b.finishedAt!.toISOString(),
      sizeBytes: b.sizeBytes!,
      dumpBytes: b.dumpBytes,
      durationMs: b.finishedAt!.getTime() - b.startedAt.getTime(),
    }));
}

/** The last 30 verifications that measured their restore, oldest first (the restore-time chart's points). */
function restoreTimePoints(verifications: VerificationSummary[]): ConsoleDatabaseView['restorePoints'] {
  return verifications
    .filter((v) => v.finishedAt && typeof v.report?.timeToUsableSeconds === 'number')
    .slice(0, 30)
    .reverse()
    .map((v) => ({ id: v.id, finishedAt: v.finishedAt!, seconds: v.report!.timeToUsableSeconds! }));
}

type DatabaseRecord = Awaited<ReturnType<Services['databases']['get']>>;

/** The buttons the viewer's role allows on the page. */
function allowedActions(services: Services, actor: ActorRef, db: DatabaseRecord): ConsoleDatabaseView['allowed'] {
  const may = (action: Action) => services.ctx.guard.can(actor, db.workspaceId, action);
  return {
    backup: may('backup.start'),
    cancel: may('backup.cancel'),
    verify: may('verification.start'),
    schedule: may('database.schedule'),
    retention: may('retention.save'),
    restore: may('restore.start'),
    download: may('backup.download'),
    copy: may('backup.start'),
  };
}

/** The database's settings as the page shows them: storages with their type, the policy in words, no password. */
function databaseFacts(
  db: DatabaseRecord,
  workspaceName: string | undefined,
  storages: Array<{ name: string; type: string }>,
): ConsoleDatabaseView['database'] {
  const policy =
    db.retentionPolicy === null || db.retentionPolicy === undefined ? null : parseRetentionPolicy(db.retentionPolicy);
  return {
    name: db.name,
    host: db.host,
    port: db.port,
    dbname: db.dbname,
    username: db.username,
    sslmode: db.sslmode,
    workspace: workspaceName ?? String(db.workspaceId),
    storages: db.storageNames.map((n) => ({ name: n, type: storages.find((s) => s.name === n)?.type ?? 'unknown' })),
    schedule: db.schedule,
    timezone: db.timezone,
    verifyAfterBackup: db.verifyAfterBackup,
    verifySchedule: db.verifySchedule,
    retentionPolicy: policy,
    retentionSummary: policy ? describePolicy(policy) : null,
    healthIntervalSeconds: db.healthIntervalSeconds,
  };
}

/** The current health state and the last day's and week's uptime, from the transitions (newest first). */
function uptimeSummary(health: HealthEvent[], now: Date): ConsoleDatabaseView['uptime'] {
  const latest = health[0];
  return {
    current: latest?.status ?? 'unknown',
    since: iso(latest?.at ?? null),
    windows: [
      uptimeWindow('24 hours', health, new Date(now.getTime() - 24 * HOUR_MS), now),
      uptimeWindow('7 days', health, new Date(now.getTime() - 7 * 24 * HOUR_MS), now),
    ],
  };
}

/** The database page: the database, its backups and charts, live jobs, uptime and what the viewer may do. */
async function databaseView(
  services: Services,
  toBackup: ToBackup,
  actor: ActorRef,
  name: string,
): Promise<ConsoleDatabaseView> {
  const { catalog, config } = services.ctx.runtime;
  const db = await services.databases.get(actor, name);
  const [backups, storages, workspace, health, verifications, jobs, drill] = await Promise.all([
    services.backupReads.list(actor, name),
    services.storages.list(actor),
    catalog.access.workspaceById(db.workspaceId),
    catalog.health.history(name, 2000),
    services.verifications.list(actor, name),
    services.jobs.running(actor, name),
    drillView(services, actor, name),
  ]);
  const [newest, uiUrl] = await Promise.all([
    catalog.verifications.newestFor(backups.map((b) => b.id)),
    workflowLinkBase(services, actor),
  ]);
  const points = chartPoints(backups);
  const now = new Date();
  return {
    allowed: allowedActions(services, actor, db),
    database: databaseFacts(db, workspace?.name, storages),
    backups: backups.map((b) => toBackup(b, uiUrl, newest.get(b.id))),
    copyTargets: storages.filter((s) => s.workspaceId === db.workspaceId).map((s) => ({ name: s.name, type: s.type })),
    points,
    restorePoints: restoreTimePoints(verifications),
    drill,
    uptime: uptimeSummary(health, now),
    jobs,
    verifications: verifications.slice(0, 10).map((v) => ({
      id: v.id,
      backupId: v.backupId,
      status: v.status,
      trigger: v.trigger,
      requestedAt: v.requestedAt,
      finishedAt: v.finishedAt,
      reason: v.reason,
    })),
    temporalUiUrl: config.temporalUiUrl,
    generatedAt: now.toISOString(),
  };
}

/** The database page's reads and changes, each through the domain services (the guard decides). */
export function createConsoleDatabaseServices(services: Services, toBackup: ToBackup): ConsoleDatabaseServices {
  const { config } = services.ctx.runtime;

  return {
    ...createStorageRetentionServices(services),
    view: (actor, name) => databaseView(services, toBackup, actor, name),

    jobs: (actor, name) => services.jobs.running(actor, name),
    backupProgress: (actor, backupId) => services.jobs.backup(actor, backupId),

    async setSchedule(actor, name, cron, timezone) {
      await services.databases.setSchedule(actor, name, cron, timezone);
    },

    async retentionPreview(actor, name, raw) {
      const policy = parseRetentionPolicy(raw);
      const [{ plan }, backups] = await Promise.all([
        services.retention.plan(actor, name, policy),
        services.backupReads.list(actor, name),
      ]);
      const byId = new Map(backups.map((b) => [b.id, b]));
      const facts = (id: string) => ({
        finishedAt: iso(byId.get(id)?.finishedAt ?? null),
        sizeBytes: byId.get(id)?.sizeBytes ?? null,
      });
      return {
        policy,
        description: describePolicy(policy),
        summary: plan.summary,
        keep: plan.keep.map((k) => ({ id: k.id, ...facts(k.id), reasons: k.reasons })),
        delete: plan.delete.map((d) => ({ id: d.id, ...facts(d.id), reason: d.reason })),
        archive: {
          keepBaseBackups: plan.keepBaseBackups,
          deleteBaseBackups: plan.deleteBaseBackups,
          walCuts: plan.walCuts ?? [],
          deleteHistories: plan.deleteHistories ?? [],
          walRefusal: plan.walRefusal ?? null,
        },
      };
    },

    async saveRetention(actor, name, raw) {
      await services.retention.setPolicy(actor, name, raw);
    },

    async cancelBackup(actor, name, backupId) {
      const backup = await services.backupReads.get(actor, backupId);
      if (backup.databaseName !== name)
        throw new HindsightError(
          'bad_input',
          `backup ${backupId} belongs to database "${backup.databaseName}", not "${name}"`,
        );
      await services.backups.cancel(actor, backupId, 'cancelled from the console');
    },

    async verification(actor, id) {
      const verification = await services.verifications.get(actor, id);
      const backup = verification.backupId
        ? await services.backupReads.get(actor, verification.backupId).catch(() => null)
        : null;
      return {
        verification,
        backup: backup
          ? {
              id: backup.id,
              startedAt: backup.startedAt.toISOString(),
              finishedAt: iso(backup.finishedAt),
              sizeBytes: backup.sizeBytes,
              dumpBytes: backup.dumpBytes,
              status: backup.status,
            }
          : null,
        workflowUrl: (await workflowLinkBase(services, actor))
          ? workflowUrl(config.temporalUiUrl, config.temporalNamespace, verifierWorkflowId(verification.database))
          : null,
        temporalUiUrl: config.temporalUiUrl,
      };
    },
  };
}
