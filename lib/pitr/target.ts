import { z } from 'zod';

/**
 * What a point-in-time restore recovers to, as PostgreSQL's recovery_target_* settings take it.
 * The pitrRestore workflow's input uses this schema; the planner and the recovery settings read
 * its output. It holds no Node APIs, so workflow code validates with it too. LSNs travel as text
 * (`16/B374D848`): Temporal payloads are JSON, which has no bigint.
 */

/**
 * RFC 3339 with an explicit offset (DESIGN failure mode 4): a bare local time means nothing on a
 * server in another zone. RFC 3339 §5.6 allows any number of fractional digits (clocks and logs
 * print nanoseconds); see {@link toMicroseconds} for what is kept of them.
 */
export const RFC3339_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time cut to microseconds, the precision of PostgreSQL's timestamps and so of commit times.
 * Cut, not rounded: dropping digits always moves the instant toward the past, and recovery stops
 * after the last commit at or before the target (recovery_target_inclusive). Rounding
 * .693721767 up to .693722 would replay a transaction committed at .693722, after the time asked
 * for; cut to .693721 it stays out, and no commit between the two can exist.
 */
export const toMicroseconds = (time: string): string => time.replace(/(\.\d{6})\d+/, '$1');

export const pitrTargetSchema = z.union(
  [
    z
      .object({
        time: z
          .string()
          .regex(
            RFC3339_WITH_OFFSET,
            'target.time must be RFC 3339 with an explicit offset, e.g. 2026-11-23T10:15:30Z or 2026-11-23T11:15:30+01:00',
          )
          .refine((t) => !Number.isNaN(Date.parse(t.replace(' ', 'T'))), 'target.time is not a real date and time')
          .transform(toMicroseconds),
      })
      .strict(),
    z
      .object({
        lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'target.lsn must look like 16/B374D848'),
      })
      .strict(),
    z
      .object({ xid: z.union([z.string().regex(/^\d{1,20}$/), z.number().int().positive()]).transform(String) })
      .strict(),
    z.object({ name: z.string().min(1).max(63, 'target.name: restore point names are at most 63 bytes') }).strict(),
    z.literal('latest'),
    z.literal('immediate'),
  ],
  {
    error:
      'target must be {"time": "<RFC 3339>"}, {"lsn": "X/Y"}, {"xid": "<n>"}, {"name": "<restore point>"}, "latest" or "immediate"',
  },
);
export type PitrTarget = z.output<typeof pitrTargetSchema>;
