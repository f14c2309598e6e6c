import type { GfsPolicy, GfsTier } from './policy.ts';
import { gfsTiers } from './policy.ts';
import { addReason, DAY_MS } from './decisions.ts';

/** Grandfather-father-son retention: which calendar bucket of each tier a backup falls in. */

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

/** Backups each tier keeps: the newest backup of each of the tier's N most recent non-empty buckets. */
export function gfsKeeps(
  policy: GfsPolicy,
  sorted: ReadonlyArray<{ id: string; finishedAt: Date }>,
): Map<string, string[]> {
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
