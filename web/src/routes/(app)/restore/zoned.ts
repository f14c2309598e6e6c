// Times on the restore wizard: UTC for the record, the chosen zone for people.
import { localDateTime } from '../../../../../lib/time-zone.ts';

/** A time in the chosen zone, as people read it. */
export function inZone(iso: string, tz: string): string {
  try {
    return (
      new Intl.DateTimeFormat('en-GB', { timeZone: tz, dateStyle: 'medium', timeStyle: 'medium' }).format(
        new Date(iso),
      ) + ` ${tz}`
    );
  } catch {
    return iso;
  }
}

/** An ISO instant as UTC wall time, without milliseconds. */
export function utc(iso: string | null): string {
  return iso
    ? iso
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
        .replace(/Z$/, ' UTC')
    : '—';
}

/** The wall time of an instant in a zone, as a datetime-local value. */
export function localValue(iso: string, tz: string): string {
  try {
    return localDateTime(new Date(iso), tz);
  } catch {
    return '';
  }
}
