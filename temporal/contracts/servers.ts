import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { NAME_RULE, nameSchema } from '../../lib/names.ts';

/**
 * `serverBackup`: one run over a whole PostgreSQL server (`server/<name>/<iso-time>`, or the
 * schedule `server/<name>`). With `--all-databases` it registers the server's new databases, marks
 * those it no longer has as dropped, then backs up every database of the server, two at a time, as
 * child runs of `backupDatabase`.
 */
export const serverBackupInput = z
  .object({
    server: nameSchema(`server must be a registered server name: ${NAME_RULE}`),
    trigger: z.enum(['manual', 'schedule']).default('schedule'),
  })
  .strict();
export type ServerBackupInput = z.input<typeof serverBackupInput>;

/** What the discovery step of a run changed in the catalog, and what it backs up. */
export interface ServerDiscovery {
  server: string;
  registered: Array<{ datname: string; name: string }>;
  dropped: string[];
  reappeared: string[];
  collisions: Array<{ datname: string; name: string; reason: string }>;
  excluded: string[];
  /** The databases this run backs up. */
  backup: string[];
  /** Those of them with a retention policy, pruned once their backup is done. */
  retention: string[];
}

export interface ServerBackupResult {
  database: string;
  workflowId: string;
  status: 'complete' | 'partial' | 'cancelled' | 'failed';
  backupId?: string;
  error?: string;
}

export interface ServerBackupOutcome extends ServerDiscovery {
  backups: ServerBackupResult[];
}

export const serverBackupWorkflow = defineWorkflow<ServerBackupInput, ServerBackupOutcome>('serverBackup', 'backup');

export const serverBackupWorkflowId = (server: string, at: Date): string => `server/${server}/${at.toISOString()}`;
export const serverScheduleId = (server: string): string => `server/${server}`;

/** At most this many databases of one server are dumped at once: the server is shared with its users. */
export const SERVER_BACKUP_CONCURRENCY = 2;
