import { CronExpressionParser } from 'cron-parser';
import { isTimeZone } from '../../../lib/time-zone.ts';

/**
 * The next runs of a backup schedule, as Temporal will start them: a five-field cron (minute hour
 * day month weekday) or a shorthand, read in an IANA time zone. Shared by the page's server load
 * and the browser's live preview, so what the form shows before saving is what the page shows after.
 */

/** The same shapes services/input.ts `cronSchema` accepts; cron-parser alone would also take six fields. */
const CRON_SHAPE = /^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/;

export interface CronRun {
  /** The instant, UTC. */
  iso: string;
  /** The same instant as a wall clock in the schedule's zone, e.g. "Sun 2026-03-29 03:30 GMT+2". */
  local: string;
}

export type CronPreview = { ok: true; runs: CronRun[] } | { ok: false; error: string };

/** A fixed locale keeps the server render and the hydrated page identical whatever the browser's language. */
function localFormatter(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'shortOffset',
  });
}

export function formatInZone(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    localFormatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  // ICU versions spell offset zero "GMT" or "GMT+0": one spelling keeps server and browser renders equal.
  const offset = parts.timeZoneName === 'GMT' || parts.timeZoneName === 'GMT+0' ? 'UTC' : parts.timeZoneName;
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${offset}`;
}

/** The next `count` runs after `from`; an invalid expression or zone gives a message that says what to write instead. */
export function previewCron(expression: string, timeZone: string, from: Date = new Date(), count = 5): CronPreview {
  const expr = expression.trim().replace(/\s+/g, ' ');
  if (expr === '') return { ok: false, error: 'Enter a cron expression, e.g. "0 3 * * *" (every day at 03:00).' };
  if (!CRON_SHAPE.test(expr)) {
    return {
      ok: false,
      error: `"${expr}" is not a schedule: use five fields (minute hour day month weekday), e.g. "0 3 * * *", or @daily / @hourly / @weekly / @monthly / @yearly.`,
    };
  }
  if (!isTimeZone(timeZone))
    return { ok: false, error: `"${timeZone}" is not a time zone: use an IANA name such as UTC or Europe/Paris.` };
  try {
    const iterator = CronExpressionParser.parse(expr, { tz: timeZone, currentDate: from, strict: false });
    const runs: CronRun[] = [];
    for (let i = 0; i < count && iterator.hasNext(); i++) {
      const at = new Date(iterator.next().getTime());
      runs.push({ iso: at.toISOString(), local: formatInZone(at, timeZone) });
    }
    if (runs.length === 0) return { ok: false, error: `"${expr}" never runs (check the day and month fields).` };
    return { ok: true, runs };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `"${expr}" is not a valid cron expression: ${reason}.` };
  }
}
