import { CronExpressionParser } from 'cron-parser';

/**
 * The next `count` runs of a plain cron line in a zone, at `second` of each minute, straight from
 * cron-parser: an independent check of what the console and Temporal say, not lib/schedule/cron.ts again.
 */
export function cronParserRuns(cron: string, timeZone: string, second: number, count: number): string[] {
  const offsetMs = second * 1000;
  const it = CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(Date.now() - offsetMs) });
  return Array.from({ length: count }, () => new Date(it.next().getTime() + offsetMs).toISOString());
}
