import { z } from 'zod';

/**
 * What a point-in-time restore recovers to, as PostgreSQL's recovery_target_* settings take it.
 * The pitrRestore workflow's input uses this schema; the planner and the recovery settings read
 * its output. It holds no Node APIs, so workflow code validates with it too. LSNs travel as text
 * (`16/B374D848`): Temporal payloads are JSON, which has no bigint.
 */

/** RFC 3339 with an explicit offset (DESIGN failure mode 4): a bare local time means nothing on a server in another zone. */
export const RFC3339_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$/;

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
          .refine((t) => !Number.isNaN(Date.parse(t.replace(' ', 'T'))), 'target.time is not a real date and time'),
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
