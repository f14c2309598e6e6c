import { HindsightError } from '../errors.ts';
import {
  gfsTiers,
  parseRetentionPolicy,
  type GfsPolicy,
  type GfsTier,
  type RetentionPolicy,
  type RetentionPolicyInput,
} from './policy.ts';

/**
 * Decides which backups, base backups and WAL a retention run removes. Pure: the caller gathers the
 * facts (catalog rows, verifications, in-flight jobs) and carries out the plan, so every rule here
 * can be tested exhaustively without storage or a database.
 */

/** A restorable (complete or partial) backup. */
export interface PlannedBackup {
  id: string;
  finishedAt: Date;
  status: 'complete' | 'partial';
  /** The newest finished verification of this backup succeeded. */
  verified: boolean;
  /** A restore or verification that has not finished reads it. */
  inUse: boolean;
}

export interface PlannedBaseBackup {
  id: string;
  finishedAt: Date;
  /** Where recovery from it starts replaying WAL, e.g. 16/B374D848. */
  startLsn: string;
  timeline: number;
  inUse: boolean;
  /** The base backup an incremental one was taken against; absent or null for a full. */
  parentId?: string | null;
}

export interface PlannedWalSegment {
  /** 24 hex digits: timeline, log and segment, e.g. 000000010000000000000003. */
  name: string;
  timeline: number;
  startLsn: string;
  /** First position after the segment. */
  endLsn: string;
}

export interface PitrFacts {
  /** Recovery must stay possible to any moment of the last windowDays days. */
  windowDays: number;
  baseBackups: PlannedBaseBackup[];
  walSegments: PlannedWalSegment[];
}

export interface RetentionInput {
  now: Date;
  policy: RetentionPolicyInput;
  backups: PlannedBackup[];
  pitr?: PitrFacts;
}

export interface KeepDecision {
  id: string;
  reasons: string[];
}
export interface DeleteDecision {
  id: string;
  reason: string;
}

/** WAL segments wholly before this position (see isWalSegmentBefore) are no longer needed. */
export interface WalCut {
  timeline: number;
  lsn: string;
}

export interface RetentionPlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  keepBaseBackups: KeepDecision[];
  deleteBaseBackups: DeleteDecision[];
  deleteWalBefore: WalCut | null;
  summary: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export const reasons = {
  young: 'younger than one hour',
  newestVerified: 'newest verified backup',
  inUse: 'in use by a restore or verification',
  lastStanding: 'newest backup: retention never deletes every backup',
  outsideTiers: 'outside every tier',
} as const;

// ---- ordering ------------------------------------------------------------------------------

/** Newest first; equal times fall back to the id so that every run orders backups the same way. */
export function newestFirst(a: { id: string; finishedAt: Date }, b: { id: string; finishedAt: Date }): number {
  const byTime = b.finishedAt.getTime() - a.finishedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

// ---- calendar buckets ----------------------------------------------------------------------

export interface LocalFields {
  year: number;
  month: number;
  day: number;
  hour: number;
}

// Building a formatter costs far more than using one; a plan formats every backup.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock date and hour of an instant in a time zone. */
export function localFields(at: Date, timeZone: string): LocalFields {
  const fields: LocalFields = { year: 0, month: 0, day: 0, hour: 0 };
  for (const part of formatterFor(timeZone).formatToParts(at)) {
    if (part.type === 'year' || part.type === 'month' || part.type === 'day' || part.type === 'hour') {
      fields[part.type] = Number(part.value);
    }
  }
  // Some ICU versions write midnight as 24 even with h23.
  if (fields.hour === 24) fields.hour = 0;
  return fields;
}

/** ISO 8601 week of a calendar date: weeks start on Monday and belong to the year of their Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = new Date(date + (3 - mondayBased) * DAY_MS);
  const weekYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * DAY_MS)) + 1;
  return { year: weekYear, week };
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** Names the bucket of a tier that holds the local fields; also what the keep reason shows. */
export function bucketKeyOf(tier: GfsTier, fields: LocalFields): string {
  const date = `${pad(fields.year, 4)}-${pad(fields.month)}-${pad(fields.day)}`;
  switch (tier) {
    case 'hourly':
      return `${date} ${pad(fields.hour)}:00`;
    case 'daily':
      return date;
    case 'weekly': {
      const { year, week } = isoWeek(fields.year, fields.month, fields.day);
      return `${pad(year, 4)}-W${pad(week)}`;
    }
    case 'monthly':
      return `${pad(fields.year, 4)}-${pad(fields.month)}`;
    case 'yearly':
      return pad(fields.year, 4);
  }
}

export function bucketKey(tier: GfsTier, at: Date, timeZone: string): string {
  return bucketKeyOf(tier, localFields(at, timeZone));
}

export function tierReason(tier: GfsTier, key: string): string {
  return `${tier} tier: newest of ${tier === 'weekly' ? `week ${key}` : key}`;
}

// ---- LSNs ----------------------------------------------------------------------------------

const lsnPattern = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

/** A PostgreSQL LSN such as 16/B374D848 as a 64-bit position. */
export function parseLsn(lsn: string): bigint {
  const match = lsnPattern.exec(lsn);
  if (match === null) throw new HindsightError('bad_input', `"${lsn}" is not an LSN (expected the form 16/B374D848)`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A segment may go when it ends at or before the cut: the cut is at or before the start of every
 * kept base backup, so no kept base backup replays it. Newer timelines are left alone.
 */
export function isWalSegmentBefore(segment: PlannedWalSegment, cut: WalCut): boolean {
  return segment.timeline <= cut.timeline && compareLsn(segment.endLsn, cut.lsn) <= 0;
}

// ---- policies ------------------------------------------------------------------------------

const plural = (count: number, one: string, many: string): string => (count === 1 ? one : `${count} ${many}`);

/** Backups each tier keeps: the newest backup of each of the tier's N most recent non-empty buckets. */
export function gfsKeeps(policy: GfsPolicy, sorted: readonly PlannedBackup[]): Map<string, string[]> {
  const keeps = new Map<string, string[]>();
  const fields = sorted.map((backup) => localFields(backup.finishedAt, policy.timezone));
  for (const tier of gfsTiers) {
    const limit = policy[tier] ?? 0;
    const seen = new Set<string>();
    // Buckets are consecutive stretches of time, so walking newest first meets each bucket's
    // newest backup first and the buckets themselves newest first.
    for (let i = 0; i < sorted.length && seen.size < limit; i++) {
      const key = bucketKeyOf(tier, fields[i]!);
      if (seen.has(key)) continue;
      seen.add(key);
      addReason(keeps, sorted[i]!.id, tierReason(tier, key));
    }
  }
  return keeps;
}

interface PolicyOutcome {
  keeps: Map<string, string[]>;
  deleteReason: string;
}

function applyPolicy(policy: RetentionPolicy, sorted: readonly PlannedBackup[], now: Date): PolicyOutcome {
  const keeps = new Map<string, string[]>();
  switch (policy.kind) {
    case 'time': {
      const cutoff = now.getTime() - policy.keepDays * DAY_MS;
      const reason = `within the last ${plural(policy.keepDays, 'day', 'days')}`;
      for (const backup of sorted) if (backup.finishedAt.getTime() >= cutoff) addReason(keeps, backup.id, reason);
      return { keeps, deleteReason: `older than ${plural(policy.keepDays, 'one day', 'days')}` };
    }
    case 'count': {
      const reason = policy.keepLast === 1 ? 'the newest backup' : `one of the ${policy.keepLast} newest`;
      for (const backup of sorted.slice(0, policy.keepLast)) addReason(keeps, backup.id, reason);
      return {
        keeps,
        deleteReason: policy.keepLast === 1 ? 'not the newest backup' : `not one of the ${policy.keepLast} newest`,
      };
    }
    case 'gfs':
      return { keeps: gfsKeeps(policy, sorted), deleteReason: reasons.outsideTiers };
  }
}

export function describePolicy(policy: RetentionPolicy): string {
  switch (policy.kind) {
    case 'time':
      return `keep ${plural(policy.keepDays, 'one day', 'days')}`;
    case 'count':
      return policy.keepLast === 1 ? 'keep the newest' : `keep the ${policy.keepLast} newest`;
    case 'gfs': {
      const tiers = gfsTiers.filter((tier) => (policy[tier] ?? 0) > 0).map((tier) => `${tier} ${policy[tier]}`);
      return `gfs ${tiers.join(', ')} (${policy.timezone})`;
    }
  }
}

// ---- plan ----------------------------------------------------------------------------------

function addReason(map: Map<string, string[]>, id: string, reason: string): void {
  const list = map.get(id);
  if (list === undefined) map.set(id, [reason]);
  else if (!list.includes(reason)) list.push(reason);
}

function checkInput(items: ReadonlyArray<{ id: string; finishedAt: Date }>, what: string): void {
  const ids = new Set<string>();
  for (const item of items) {
    if (ids.has(item.id)) throw new HindsightError('bad_input', `${what} ${item.id} appears twice`);
    ids.add(item.id);
    if (!(item.finishedAt instanceof Date) || Number.isNaN(item.finishedAt.getTime())) {
      throw new HindsightError('bad_input', `${what} ${item.id} has no valid finish time`);
    }
  }
}

function split(
  sorted: ReadonlyArray<{ id: string }>,
  keeps: Map<string, string[]>,
  deleteReason: string,
): { keep: KeepDecision[]; delete: DeleteDecision[] } {
  const keep: KeepDecision[] = [];
  const remove: DeleteDecision[] = [];
  for (const item of sorted) {
    const why = keeps.get(item.id);
    if (why !== undefined) keep.push({ id: item.id, reasons: why });
    else remove.push({ id: item.id, reason: deleteReason });
  }
  return { keep, delete: remove };
}

function planBackups(
  policy: RetentionPolicy,
  backups: readonly PlannedBackup[],
  now: Date,
): { keep: KeepDecision[]; delete: DeleteDecision[] } {
  const sorted = [...backups].sort(newestFirst);
  const { keeps, deleteReason } = applyPolicy(policy, sorted, now);
  const policyKeptAny = keeps.size > 0;

  // The safety rules come after the policy so that they can only add to what is kept.
  for (const backup of sorted) {
    if (now.getTime() - backup.finishedAt.getTime() < HOUR_MS) addReason(keeps, backup.id, reasons.young);
    if (backup.inUse) addReason(keeps, backup.id, reasons.inUse);
  }
  const newestVerified = sorted.find((backup) => backup.verified);
  if (newestVerified !== undefined) addReason(keeps, newestVerified.id, reasons.newestVerified);
  if (!policyKeptAny && sorted[0] !== undefined) addReason(keeps, sorted[0].id, reasons.lastStanding);

  return split(sorted, keeps, deleteReason);
}

interface BaseBackupPlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  deleteWalBefore: WalCut | null;
}

/**
 * An incremental base backup is restored by combining it with its full and every increment
 * between: each ancestor of a kept base backup is kept too, whatever its age. A parent that is not
 * among the base backups given (already deleted) adds nothing: that chain is broken, and the chain
 * monitor reports it.
 */
function keepAncestors(bases: PlannedBaseBackup[], keeps: Map<string, string[]>): void {
  const byId = new Map(bases.map((base) => [base.id, base]));
  for (const id of [...keeps.keys()]) {
    const seen = new Set<string>([id]);
    let parentId = byId.get(id)?.parentId ?? null;
    while (parentId !== null && byId.has(parentId) && !seen.has(parentId)) {
      seen.add(parentId);
      addReason(keeps, parentId, `needed to restore incremental base backup ${id}`);
      parentId = byId.get(parentId)!.parentId ?? null;
    }
  }
}

function planPitr(pitr: PitrFacts, now: Date): BaseBackupPlan {
  if (!Number.isFinite(pitr.windowDays) || pitr.windowDays < 0) {
    throw new HindsightError('bad_input', `the PITR window must be 0 days or more, not ${pitr.windowDays}`);
  }
  checkInput(pitr.baseBackups, 'base backup');
  for (const base of pitr.baseBackups) parseLsn(base.startLsn);
  for (const segment of pitr.walSegments) {
    parseLsn(segment.startLsn);
    parseLsn(segment.endLsn);
  }

  const sorted = [...pitr.baseBackups].sort(newestFirst);
  const windowStart = now.getTime() - pitr.windowDays * DAY_MS;
  // Recovery to a moment replays from the newest base backup finished at or before it, so the
  // window needs the newest one before its start and everything after. Without one, all are needed.
  const anchor = sorted.findIndex((base) => base.finishedAt.getTime() <= windowStart);
  const windowReason = `needed for the ${pitr.windowDays}-day PITR window`;
  const keeps = new Map<string, string[]>();
  sorted.forEach((base, index) => {
    if (anchor === -1 || index <= anchor) addReason(keeps, base.id, windowReason);
    if (base.inUse) addReason(keeps, base.id, reasons.inUse);
  });
  // Recovery replays WAL from the backups kept for their own sake; their ancestors only lend pages.
  const restoredFrom = new Set(keeps.keys());
  keepAncestors(sorted, keeps);
  const { keep, delete: remove } = split(sorted, keeps, `older than the ${pitr.windowDays}-day PITR window needs`);

  // The earliest WAL position any kept base backup replays from; everything before it is history.
  let oldest: PlannedBaseBackup | undefined;
  for (const base of sorted) {
    if (!restoredFrom.has(base.id)) continue;
    if (oldest === undefined) {
      oldest = base;
      continue;
    }
    const order = compareLsn(base.startLsn, oldest.startLsn);
    if (order < 0 || (order === 0 && base.timeline < oldest.timeline)) oldest = base;
  }
  if (oldest === undefined) return { keep, delete: remove, deleteWalBefore: null };
  const cut: WalCut = { timeline: oldest.timeline, lsn: oldest.startLsn };
  // Null tells the caller there is nothing to list or remove in the WAL archive.
  const anyToDelete = pitr.walSegments.some((segment) => isWalSegmentBefore(segment, cut));
  return { keep, delete: remove, deleteWalBefore: anyToDelete ? cut : null };
}

function summarize(
  policy: RetentionPolicy,
  backups: { keep: KeepDecision[]; delete: DeleteDecision[] },
  pitr: BaseBackupPlan | null,
  walCount: number,
): string {
  const total = backups.keep.length + backups.delete.length;
  const parts = [
    `${describePolicy(policy)}: keep ${backups.keep.length} of ${total} backups, delete ${backups.delete.length}`,
  ];
  if (pitr !== null) {
    const bases = pitr.keep.length + pitr.delete.length;
    parts.push(`keep ${pitr.keep.length} of ${bases} base backups, delete ${pitr.delete.length}`);
    parts.push(
      pitr.deleteWalBefore === null
        ? 'no WAL to delete'
        : `delete ${plural(walCount, 'one WAL segment', 'WAL segments')} before ${pitr.deleteWalBefore.lsn} (timeline ${pitr.deleteWalBefore.timeline})`,
    );
  }
  return parts.join('; ');
}

/** Plans one retention run. Throws a bad_input HindsightError on an invalid policy or input. */
export function planRetention(input: RetentionInput): RetentionPlan {
  if (Number.isNaN(input.now.getTime())) throw new HindsightError('bad_input', 'now is not a valid time');
  const policy = parseRetentionPolicy(input.policy);
  checkInput(input.backups, 'backup');

  const backups = planBackups(policy, input.backups, input.now);
  const pitr = input.pitr === undefined ? null : planPitr(input.pitr, input.now);
  const cut = pitr?.deleteWalBefore ?? null;
  const walCount =
    cut === null ? 0 : input.pitr!.walSegments.filter((segment) => isWalSegmentBefore(segment, cut)).length;
  return {
    keep: backups.keep,
    delete: backups.delete,
    keepBaseBackups: pitr?.keep ?? [],
    deleteBaseBackups: pitr?.delete ?? [],
    deleteWalBefore: cut,
    summary: summarize(policy, backups, pitr, walCount),
  };
}
