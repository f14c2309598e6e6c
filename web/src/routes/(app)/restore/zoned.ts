// Times on the restore wizard: UTC for the record, the chosen zone for people.

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
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(new Date(iso));
    const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
    return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}`;
  } catch {
    return '';
  }
}
