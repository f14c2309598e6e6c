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
