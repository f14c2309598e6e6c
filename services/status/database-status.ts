/**
 * One answer to "how is each database doing?", read by the console's dashboard and by /metrics:
 * health, the last backup and its age against the overdue threshold, the next scheduled run, the
 * last verification, the PITR window and RPO, storage used, and counts by outcome. The facts come
 * from the catalog only (no Temporal query, no storage listing), so a scrape every 15 s is cheap.
 *
 * The derivation (`deriveStatus`, `orderByProblems`, `nextRunAfter`) is pure and unit-tested; the
 * loader reads the facts of the workspaces the actor may read.
 */
import type { Catalog } from '../../lib/catalog/catalog.ts';
import type { DatabaseFacts } from '../../lib/catalog/status.ts';
import { loadChain } from '../../lib/pitr/chain-source.ts';
import { nextCronRuns } from '../../lib/schedule/cron.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { describeGap } from '../../lib/wal/chain.ts';

/** In the order the dashboard ranks them: the first is the most urgent. */
export const PROBLEM_KINDS = [
  'down',
  'overdue',
  'backup_failed',
  'verification_failed',
  'wal_gap',
  'backup_partial',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface StatusProblem {
  kind: ProblemKind;
  /** One sentence for a person: what is wrong and since when. */
  text: string;
}

export interface PitrStatus {
  /** The newest recovery window: any second between `from` and `to` can be restored. */
  window: { from: string; to: string } | null;
  /** Holes in the archive, as sentences (empty when the chain is whole). */
  gaps: string[];
  /** When the newest archived WAL byte arrived, and how long ago that is: the data at risk now. */
  newestWalAt: string | null;
  rpoSeconds: number | null;
  /** The newest complete base backup: what protects a database that has PITR and no logical backup. */
  lastBaseBackup: { id: string; finishedAt: string; ageSeconds: number } | null;
  completeBaseBackups: number;
  /**
   * One word for the badge: `ok`; `stale` when no WAL arrived for PITR_STALE_AFTER_SECONDS (an idle
   * database, or an archiver that is behind or stopped); `broken` when the archive has a gap;
   * `waiting` before the first window (no complete base backup yet).
   */
  state: 'ok' | 'stale' | 'broken' | 'waiting';
}

/** No WAL for this long reads as a warning: a busy database ships a partial segment every second. */
export const PITR_STALE_AFTER_SECONDS = 15 * 60;

export interface DatabaseStatus {
  name: string;
  workspaceId: number;
  health: { state: 'up' | 'down' | 'unknown'; since: string | null; detail: string | null };
  /** The newest backup that ended, whatever its outcome. */
  lastBackup: { id: string; status: string; finishedAt: string | null; error: string | null } | null;
  /** The newest complete (or partial) backup: what a restore would use. */
  lastCompleteBackup: {
    id: string;
    finishedAt: string;
    sizeBytes: number | null;
    durationSeconds: number | null;
    ageSeconds: number;
  } | null;
  /** `hindsight db overdue`: a threshold in hours, and whether the newest complete backup is older. */
  overdue: { thresholdHours: number | null; overdue: boolean };
  schedule: { cron: string; timezone: string; nextRunAt: string | null } | null;
  lastVerification: {
    id: string;
    backupId: string | null;
    status: 'successful' | 'failed';
    finishedAt: string | null;
    reason: string | null;
    /** Its measured time to a usable database: what a restore of this database takes (the RTO). */
    timeToUsableSeconds: number | null;
  } | null;
  /** The newest restore drill into the database's drill target that ended: the restore time on real hardware. */
  lastDrill: {
    id: string;
    backupId: string | null;
    status: 'successful' | 'failed';
    finishedAt: string | null;
    timeToUsableSeconds: number | null;
    restoredBytes: number | null;
  } | null;
  /** Null when PITR is off. */
  pitr: PitrStatus | null;
  storageUsedBytes: number;
  storageUsed: { backups: number; wal: number; baseBackups: number };
  backups: Record<string, number>;
  verifications: Record<string, number>;
  /** Most urgent first; empty when all is well. */
  problems: StatusProblem[];
}

export interface DatabaseStatusReport {
  /** Databases with problems first (most urgent first), then the rest by name. */
  databases: DatabaseStatus[];
  generatedAt: string;
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const seconds = (ms: number): number => Math.max(0, ms / 1000);

/**
 * The next time a five-field cron (or @daily, …) fires after `after`, in the schedule's time zone,
 * at `atSecond` of its minute (a backup's own second, lib/schedule/spread.ts), as Temporal's
 * schedule would; null for an expression the parser does not take.
 */
export function nextRunAfter(cron: string, timezone: string, after: Date, atSecond = 0): Date | null {
  const offsetMs = atSecond * 1000;
  try {
    // A run of the current minute whose second has not come yet is still the next one.
    const minute = nextCronRuns(cron, timezone, 1, new Date(after.getTime() - offsetMs))[0];
    return minute ? new Date(minute.getTime() + offsetMs) : null;
  } catch {
    return null;
  }
}

/** "3 h 20 min", for problem sentences. */
export function describeAge(totalSeconds: number): string {
  const s = Math.round(totalSeconds);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  return `${Math.floor(h / 24)} days`;
}

export interface PitrFacts {
  window: { from: Date; to: Date } | null;
  gaps: string[];
  newestWalAt: Date | null;
  lastBaseBackup?: { id: string; finishedAt: Date } | null;
  completeBaseBackups?: number;
}

/** When the newest complete backup finished (or started, if it has no end time). */
const completedAt = (facts: DatabaseFacts): Date | null =>
  facts.lastComplete ? (facts.lastComplete.finishedAt ?? facts.lastComplete.startedAt) : null;

function lastCompleteBackupOf(facts: DatabaseFacts, nowMs: number): DatabaseStatus['lastCompleteBackup'] {
  const complete = facts.lastComplete;
  const completeAt = completedAt(facts);
  return complete && completeAt
    ? {
        id: complete.id,
        finishedAt: completeAt.toISOString(),
        sizeBytes: complete.sizeBytes,
        durationSeconds: complete.finishedAt
          ? seconds(complete.finishedAt.getTime() - complete.startedAt.getTime())
          : null,
        ageSeconds: seconds(nowMs - completeAt.getTime()),
      }
    : null;
}

/**
 * As the watchdog decides (lib/catalog/notifiers.ts overdueDatabases): a database never backed up
 * is overdue once the threshold has passed since it was added.
 */
function isOverdue(facts: DatabaseFacts, nowMs: number): boolean {
  const reference = completedAt(facts) ?? facts.createdAt;
  return facts.overdueHours !== null && nowMs - reference.getTime() > facts.overdueHours * 3600_000;
}

function healthOf(facts: DatabaseFacts): DatabaseStatus['health'] {
  return facts.health
    ? { state: facts.health.status, since: facts.health.at.toISOString(), detail: facts.health.detail }
    : { state: 'unknown' as const, since: null, detail: null };
}

function pitrStateOf(status: Omit<PitrStatus, 'state'>): PitrStatus['state'] {
  if (status.gaps.length > 0) return 'broken';
  if (!status.window) return 'waiting';
  return status.rpoSeconds !== null && status.rpoSeconds > PITR_STALE_AFTER_SECONDS ? 'stale' : 'ok';
}

function pitrStatusOf(facts: DatabaseFacts, pitr: PitrFacts | null, nowMs: number): PitrStatus | null {
  if (!facts.pitrEnabled) return null;
  const base = pitr?.lastBaseBackup ?? null;
  const status = {
    window: pitr?.window ? { from: pitr.window.from.toISOString(), to: pitr.window.to.toISOString() } : null,
    gaps: pitr?.gaps ?? [],
    newestWalAt: iso(pitr?.newestWalAt),
    rpoSeconds: pitr?.newestWalAt ? seconds(nowMs - pitr.newestWalAt.getTime()) : null,
    lastBaseBackup: base
      ? {
          id: base.id,
          finishedAt: base.finishedAt.toISOString(),
          ageSeconds: seconds(nowMs - base.finishedAt.getTime()),
        }
      : null,
    completeBaseBackups: pitr?.completeBaseBackups ?? 0,
  };
  return { ...status, state: pitrStateOf(status) };
}

function overdueProblem(facts: DatabaseFacts, nowMs: number): StatusProblem {
  const completeAt = completedAt(facts);
  const age = describeAge(seconds(nowMs - (completeAt ?? facts.createdAt).getTime()));
  return {
    kind: 'overdue',
    text: completeAt
      ? `no complete backup for ${age} (threshold ${facts.overdueHours} h)`
      : `never backed up in ${age} (threshold ${facts.overdueHours} h)`,
  };
}

/** What is wrong with the database, most urgent first. */
function problemsOf(facts: DatabaseFacts, pitrStatus: PitrStatus | null, nowMs: number): StatusProblem[] {
  const problems: StatusProblem[] = [];
  if (facts.health?.status === 'down') {
    problems.push({
      kind: 'down',
      text: `down for ${describeAge(seconds(nowMs - facts.health.at.getTime()))}${facts.health.detail ? `: ${facts.health.detail}` : ''}`,
    });
  }
  if (isOverdue(facts, nowMs)) problems.push(overdueProblem(facts, nowMs));
  const last = facts.lastEnded;
  if (last?.status === 'failed')
    problems.push({ kind: 'backup_failed', text: `last backup failed${last.error ? `: ${last.error}` : ''}` });
  if (last?.status === 'partial')
    problems.push({ kind: 'backup_partial', text: 'last backup reached only some of its storages' });
  if (facts.lastVerification?.status === 'failed') {
    problems.push({
      kind: 'verification_failed',
      text: `last verification failed${facts.lastVerification.reason ? `: ${facts.lastVerification.reason}` : ''}`,
    });
  }
  if (pitrStatus && pitrStatus.gaps.length > 0) {
    problems.push({
      kind: 'wal_gap',
      text: `WAL archive has ${pitrStatus.gaps.length === 1 ? 'a gap' : `${pitrStatus.gaps.length} gaps`}: ${pitrStatus.gaps[0]}`,
    });
  }
  return problems.sort((a, b) => PROBLEM_KINDS.indexOf(a.kind) - PROBLEM_KINDS.indexOf(b.kind));
}

/** A database's status from its facts, at `now`. */
export function deriveStatus(facts: DatabaseFacts, now: Date, pitr: PitrFacts | null = null): DatabaseStatus {
  const nowMs = now.getTime();
  const pitrStatus = pitrStatusOf(facts, pitr, nowMs);
  const next = facts.schedule ? nextRunAfter(facts.schedule, facts.timezone, now, spreadSecond(facts.name)) : null;
  const last = facts.lastEnded;
  const v = facts.lastVerification;
  return {
    name: facts.name,
    workspaceId: facts.workspaceId,
    health: healthOf(facts),
    lastBackup: last ? { id: last.id, status: last.status, finishedAt: iso(last.finishedAt), error: last.error } : null,
    lastCompleteBackup: lastCompleteBackupOf(facts, nowMs),
    overdue: { thresholdHours: facts.overdueHours, overdue: isOverdue(facts, nowMs) },
    schedule: facts.schedule ? { cron: facts.schedule, timezone: facts.timezone, nextRunAt: iso(next) } : null,
    lastVerification: v
      ? {
          id: v.id,
          backupId: v.backupId,
          status: v.status,
          finishedAt: iso(v.finishedAt),
          reason: v.reason,
          timeToUsableSeconds: v.timeToUsableSeconds,
        }
      : null,
    lastDrill: facts.lastDrill ? { ...facts.lastDrill, finishedAt: iso(facts.lastDrill.finishedAt) } : null,
    pitr: pitrStatus,
    storageUsedBytes: facts.storedBytes.backups + facts.storedBytes.wal + facts.storedBytes.baseBackups,
    storageUsed: { ...facts.storedBytes },
    backups: { ...facts.backupsByStatus },
    verifications: { ...facts.verificationsByStatus },
    problems: problemsOf(facts, pitrStatus, nowMs),
  };
}

/** Problems first, the most urgent first (then by name), then every healthy database by name. */
export function orderByProblems(statuses: DatabaseStatus[]): DatabaseStatus[] {
  const rank = (s: DatabaseStatus) =>
    s.problems.length === 0 ? PROBLEM_KINDS.length : PROBLEM_KINDS.indexOf(s.problems[0]!.kind);
  return [...statuses].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The window, holes and newest WAL of a database's archive as the catalog records it. */
async function readPitrFacts(catalog: Catalog, database: string): Promise<PitrFacts> {
  const chain = await loadChain(catalog, database);
  const newest = chain.analysis.windows.reduce<(typeof chain.analysis.windows)[number] | undefined>(
    (best, w) =>
      !best ||
      w.to.time > best.to.time ||
      (w.to.time.getTime() === best.to.time.getTime() && w.from.time < best.from.time)
        ? w
        : best,
    undefined,
  );
  // chain.database: the archive read, another database's when this one shares it.
  const durable = await catalog.wal.latestDurable(chain.database, chain.systemIdentifier ?? undefined);
  // Newest first, as the catalog lists them.
  const lastBase = chain.baseBackups.find((b) => b.stopTime !== null);
  return {
    window: newest ? { from: newest.from.time, to: newest.to.time } : null,
    gaps: chain.analysis.gaps.map(describeGap),
    newestWalAt: durable?.receivedAt ?? null,
    lastBaseBackup: lastBase ? { id: lastBase.id, finishedAt: lastBase.stopTime! } : null,
    completeBaseBackups: chain.baseBackups.length,
  };
}

/** The status of every database in the given workspaces (all when undefined), ordered for the dashboard. */
export async function loadDatabaseStatus(
  catalog: Catalog,
  options: { workspaceIds?: number[]; now?: Date } = {},
): Promise<DatabaseStatusReport> {
  const now = options.now ?? new Date();
  const facts = await catalog.databaseFacts(options.workspaceIds);
  const statuses = await Promise.all(
    facts.map(async (f) => deriveStatus(f, now, f.pitrEnabled ? await readPitrFacts(catalog, f.name) : null)),
  );
  return { databases: orderByProblems(statuses), generatedAt: now.toISOString() };
}
