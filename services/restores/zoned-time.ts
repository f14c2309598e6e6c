/**
 * Turns a wall-clock time typed in a form (an HTML datetime-local value) and an IANA time zone
 * into RFC 3339 with an explicit offset, the only form a PITR target accepts (docs/design.md,
 * failure mode 4). Pure, so that the console and tests agree on it.
 */
import { wallClock } from '../../lib/time-zone.ts';

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** The zone's offset from UTC in minutes at the instant `utcMs`. */
function offsetMinutes(utcMs: number, timeZone: string): number {
  const w = wallClock(new Date(utcMs), timeZone);
  const asUtc = Date.UTC(+w.year, +w.month - 1, +w.day, +w.hour, +w.minute, +w.second);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

export function formatOffset(minutes: number): string {
  if (minutes === 0) return 'Z';
  return `${minutes < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

/**
 * `2026-11-23T11:15` in `Europe/Paris` → `2026-11-23T11:15:00+01:00`. Throws with a message naming
 * the field for a malformed value, an unknown zone, or a wall time that the zone skips (spring-forward).
 */
export function zonedToRfc3339(local: string, timeZone: string): { rfc3339: string; utc: Date } {
  const m = LOCAL.exec(local.trim());
  if (!m) throw new Error(`time "${local}" must look like 2026-11-23T10:15 or 2026-11-23T10:15:30`);
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw new Error(`timezone "${timeZone}" is not an IANA name such as UTC or Europe/Paris`);
  }
  const [, y, mo, d, h, mi, s] = m;
  const wallAsUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  // Two rounds settle the offset on either side of a DST change.
  let offset = offsetMinutes(wallAsUtc, timeZone);
  offset = offsetMinutes(wallAsUtc - offset * 60_000, timeZone);
  const utcMs = wallAsUtc - offset * 60_000;
  if (utcMs + offsetMinutes(utcMs, timeZone) * 60_000 !== wallAsUtc) {
    throw new Error(`time ${local} does not exist in ${timeZone} (the clocks skip it): choose another minute`);
  }
  const rfc3339 = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${formatOffset(offset)}`;
  return { rfc3339, utc: new Date(utcMs) };
}
