/** /api/v1: deleting one backup by hand (services/backups/delete.ts). */
import { z } from 'zod';
import { endpoint, type Endpoint } from './api-v1-endpoint.ts';
import { params } from './api-v1-schemas.ts';

const deleted = z.object({
  backupId: z.string(),
  database: z.string(),
  storages: z.array(z.string()).describe('the storages that held (or, in a dry run, hold) a copy'),
  deleted: z.boolean(),
  dryRun: z.boolean(),
});

export const backupDeleteEndpoints: Endpoint[] = [
  endpoint({
    method: 'delete',
    path: '/backups/:id',
    operationId: 'deleteBackup',
    responseSchema: deleted,
    tag: 'backups',
    params: params.id,
    query: z.object({
      dryRun: z
        .enum(['0', '1', 'true', 'false'])
        .optional()
        .describe('1: say which storages hold it and whether it may go, deleting nothing'),
      reason: z.string().max(500).optional().describe('recorded with the deletion and in the audit log'),
    }),
    status: 200,
    summary: 'Delete a backup',
    description:
      'Deletes the backup from every storage holding a copy, then marks it deleted. Refused (409), with nothing removed, ' +
      'while it is running, restored or verified, and while a storage locks it (S3 Object Lock: the date is named).',
    response: 'The backup, its database and the storages it was deleted from',
    handler: async ({ domain, actor, params: p, query }) =>
      domain.backups.delete(actor(), p.id, {
        dryRun: query.dryRun === '1' || query.dryRun === 'true',
        ...(query.reason === undefined ? {} : { reason: query.reason }),
      }),
  }),
];
