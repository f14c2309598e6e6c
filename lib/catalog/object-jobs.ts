/**
 * Jobs that read or write a database's objects in storage right now: backups and base backups
 * being written, restores and verifications reading, restore drills, and point-in-time restores
 * holding base backups (lib/catalog/base-backups-in-use.ts). A rewrap rewrites objects in place,
 * so it refuses while any of them runs rather than replace an object under a reader or miss one a
 * writer has not finished.
 */
import type { Queryable } from './db.ts';

export interface ObjectJob {
  kind: 'backup' | 'base backup' | 'restore' | 'verification' | 'restore drill' | 'point-in-time restore';
  database: string;
  id: string;
}

const RUNNING = `
  select 'backup' as kind, d.name as database, b.id from backups b join databases d on d.id = b.database_id
   where b.status = 'running'
  union all
  select 'base backup', coalesce(d.name, '-'), bb.id from base_backups bb left join databases d on d.id = bb.database_id
   where bb.status = 'running'
  union all
  select 'restore', d.name, r.id from restores r join backups b on b.id = r.backup_id join databases d on d.id = b.database_id
   where r.status = 'running'
  union all
  select 'verification', d.name, v.id from verifications v join databases d on d.id = v.database_id
   where v.status = 'running'
  union all
  select 'restore drill', d.name, rd.id from restore_drills rd join databases d on d.id = rd.database_id
   where rd.status = 'running'
  union all
  select distinct 'point-in-time restore', h.database, h.workflow_id from base_backups_in_use h
   where h.expires_at > $1`;

/** Every such job at `now`, in a stable order (expired holds of lost restores are not counted). */
export async function runningObjectJobs(db: Queryable, now: Date): Promise<ObjectJob[]> {
  const { rows } = await db.query<ObjectJob>(`select * from (${RUNNING}) jobs order by database, kind, id`, [now]);
  return rows;
}
