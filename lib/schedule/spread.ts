/**
 * Scheduled backups spread over their minute. A cron fires at second 0, so every database on the
 * same minute would start in the same second: at 10,000 hourly schedules that is about 170 backups
 * due at once, which a worker takes up over tens of seconds. Each database's runs start instead at
 * a second of their own, stable for its name, so the same minute's runs arrive one or two per
 * second. The minute an operator wrote is kept; only the second within it moves.
 */
import { expandShorthand } from './cron.ts';

/** 0–59, the same for a name on every host and release (FNV-1a of its UTF-8 bytes). */
export function spreadSecond(name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 60;
}

/**
 * The five-field line (or shorthand) as Temporal's seven-field form — second, the five fields,
 * year — firing at `second` of each minute it names. Validation stays with lib/schedule/cron.ts:
 * this only adds the two fields Temporal reads before and after the five.
 */
export function cronAtSecond(expression: string, second: number): string {
  if (!Number.isInteger(second) || second < 0 || second > 59)
    throw new RangeError(`second must be an integer 0–59, got ${second}`);
  return `${second} ${expandShorthand(expression)} *`;
}

/** What Temporal receives for a database's backup schedule written as `cron`. */
export const spreadCron = (expression: string, database: string): string =>
  cronAtSecond(expression, spreadSecond(database));
