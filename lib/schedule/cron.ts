import { CronExpressionParser } from 'cron-parser';
import { HindsightError } from '../errors.ts';
import { isTimeZone } from '../time-zone.ts';
import { CronSyntaxError, impossibleDate, parseFields, type CronFields } from './cron-fields.ts';

/**
 * Schedules: a five-field cron line (minute hour day-of-month month day-of-week) or a shorthand,
 * read in an IANA time zone, with the runs Temporal's schedule will make. The one rule for every
 * entry point — the services' schemas, the API, the CLI, the console's form and its live preview
 * (which imports this module in the browser, so it uses no Node API).
 *
 * Temporal's reading of a line decides; where cron-parser reads it otherwise we follow Temporal:
 * a day-of-month and a day-of-week that are both restricted must BOTH match (classic cron fires
 * when either does), and the Quartz extensions Temporal lacks are refused (cron-fields.ts).
 *
 * A refusal quotes the line but does not say which setting it is: the caller names that ("schedule: ",
 * "verification schedule: ", services/input.ts parseOrThrow), so that the message says it once.
 */

const SHORTHANDS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** How far ahead a schedule must fire at least once to be accepted. */
export const HORIZON_YEARS = 5;

export interface CronSchedule {
  /** As written, spaces collapsed: what Temporal receives. */
  expression: string;
  fields: CronFields;
}

/** One space between fields, none around: how the line is stored and shown. */
export const normalizeCron = (expression: string): string => expression.trim().replace(/\s+/g, ' ');

/** The five fields a shorthand stands for (@daily is `0 0 * * *`); any other line as it is, normalized. */
export function expandShorthand(expression: string): string {
  const expr = normalizeCron(expression);
  return (expr.startsWith('@') ? SHORTHANDS[expr.toLowerCase()] : undefined) ?? expr;
}

/** The fields of a schedule, or a CronSyntaxError naming the field and its range, or why it can never fire. */
function readCron(expression: string): CronSchedule {
  const expr = normalizeCron(expression);
  const shorthand = expr.startsWith('@') ? SHORTHANDS[expr.toLowerCase()] : undefined;
  if (expr.startsWith('@') && shorthand === undefined)
    throw new CronSyntaxError(
      `'${expr}' is not a shorthand Temporal knows: use @hourly, @daily, @weekly, @monthly or @yearly`,
    );
  const fields = parseFields(shorthand ?? expr, expr);
  const impossible = impossibleDate(fields);
  if (impossible) throw new CronSyntaxError(`'${expr}' never fires: ${impossible}`);
  return { expression: expr, fields };
}

/** The line cron-parser reads: given both day fields restricted it would OR them, so it gets only one. */
function iterationOf(schedule: CronSchedule, timeZone: string, from: Date) {
  const { minute, hour, dayOfMonth, month, dayOfWeek } = schedule.fields;
  const days = dayOfMonth.all ? '*' : dayOfMonth.text;
  const weekdays = dayOfMonth.all && !dayOfWeek.all ? dayOfWeek.text : '*';
  const line = [minute.text, hour.text, days, month.text, weekdays].map((f) => f.toLowerCase());
  const iterator = CronExpressionParser.parse(line.join(' '), { tz: timeZone, currentDate: from });
  // Both restricted: walk the days of the month and keep those on a chosen weekday.
  const filter = !dayOfMonth.all && !dayOfWeek.all ? dayOfWeek.values : null;
  return { iterator, filter };
}

/** Up to `count` runs strictly after `from` and within the horizon, as Temporal's schedule makes them. */
function runsOf(schedule: CronSchedule, timeZone: string, from: Date, count: number): Date[] {
  const horizon = new Date(from);
  horizon.setUTCFullYear(horizon.getUTCFullYear() + HORIZON_YEARS);
  const { iterator, filter } = iterationOf(schedule, timeZone, from);
  const runs: Date[] = [];
  while (runs.length < count && iterator.hasNext()) {
    const next = iterator.next();
    if (next.getTime() > horizon.getTime()) break;
    if (filter === null || filter.has(next.getDay())) runs.push(new Date(next.getTime()));
    else {
      next.setEndOfDay();
      iterator.reset(next);
    }
  }
  return runs;
}

function zoneProblem(timeZone: string): string | null {
  return isTimeZone(timeZone) ? null : `time zone '${timeZone}' is not an IANA name such as UTC or Europe/Paris`;
}

type Checked = { ok: true; schedule: CronSchedule; runs: Date[] } | { ok: false; error: string };

/** Reads and runs a schedule; a refusal says which field or zone is wrong, or that it never fires. */
function check(expression: string, timeZone: string, from: Date, count: number): Checked {
  const badZone = zoneProblem(timeZone);
  if (badZone) return { ok: false, error: badZone };
  let schedule: CronSchedule;
  try {
    schedule = readCron(expression);
  } catch (error) {
    if (error instanceof CronSyntaxError) return { ok: false, error: error.message };
    throw error;
  }
  const runs = runsOf(schedule, timeZone, from, Math.max(count, 1));
  if (runs.length === 0) {
    const both = !schedule.fields.dayOfMonth.all && !schedule.fields.dayOfWeek.all;
    const why = both ? ': its day-of-month and day-of-week must both match, and never do' : '';
    return {
      ok: false,
      error: `'${schedule.expression}' never fires within ${HORIZON_YEARS} years in ${timeZone}${why}`,
    };
  }
  return { ok: true, schedule, runs: runs.slice(0, count) };
}

/** Null when the schedule is good; otherwise the message that names the field and range, or why it never fires. */
export function cronProblem(expression: string, timeZone = 'UTC', from: Date = new Date()): string | null {
  const checked = check(expression, timeZone, from, 1);
  return checked.ok ? null : checked.error;
}

/** The next `count` runs after `from` in the zone; throws a bad_input HindsightError for a schedule that cannot be. */
export function nextCronRuns(expression: string, timeZone: string, count = 5, from: Date = new Date()): Date[] {
  const checked = check(expression, timeZone, from, count);
  if (!checked.ok) throw new HindsightError('bad_input', checked.error);
  return checked.runs;
}

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

/** "Sun 2026-03-29 04:15 GMT+2": an instant as the zone's wall clock with its offset. */
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

/**
 * The next `count` runs after `from` for display, or the message that says what to write instead.
 * `atSecond` is the second of the minute the runs start at (a backup schedule's, lib/schedule/spread.ts):
 * the instants carry it, the wall clock shows the minute as written.
 */
export function previewCron(
  expression: string,
  timeZone: string,
  from: Date = new Date(),
  count = 5,
  atSecond = 0,
): CronPreview {
  if (normalizeCron(expression) === '')
    return { ok: false, error: "Enter a cron expression, e.g. '0 3 * * *' (every day at 03:00)." };
  const offsetMs = atSecond * 1000;
  // From the minute of `from`: a run of this minute whose second has not come yet is still next.
  const checked = check(expression, timeZone, new Date(from.getTime() - offsetMs), count);
  if (!checked.ok) return checked;
  return {
    ok: true,
    runs: checked.runs.map((minute) => {
      const at = new Date(minute.getTime() + offsetMs);
      return { iso: at.toISOString(), local: formatInZone(at, timeZone) };
    }),
  };
}
