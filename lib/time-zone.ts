/**
 * Time zones by IANA name. Free of dependencies, so that the console's browser code (the cron
 * preview) checks a zone exactly as the server's schemas do.
 */

/** True when Intl knows the zone; bucket keys and schedules are computed with it, so an unknown one must fail early. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The calendar and clock fields of an instant in a zone, zero-padded as a datetime-local value writes them. */
export interface WallClock {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

const WALL_CLOCK: Intl.DateTimeFormatOptions = {
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
};

/** What a clock on the wall in `timeZone` shows at `at`; throws a RangeError for an unknown zone. */
export function wallClock(at: Date, timeZone: string): WallClock {
  const parts = new Intl.DateTimeFormat('en-CA', { ...WALL_CLOCK, timeZone }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '00';
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** `2026-11-23T17:43:40`: the wall time of an instant in a zone, as an HTML datetime-local value. */
export function localDateTime(at: Date, timeZone: string): string {
  const w = wallClock(at, timeZone);
  return `${w.year}-${w.month}-${w.day}T${w.hour}:${w.minute}:${w.second}`;
}
