import { fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import type { Actions, PageServerLoad } from './$types';

/**
 * The copy forms of the database page post here (`?/one` from a backup's row, `?/all` from the
 * Backups panel), so that the page's own actions stay as they are. Without JavaScript the answer
 * is shown on this route's page, with the way back.
 */
export const load: PageServerLoad = async ({ params }) => ({ database: params.name });

export const actions = {
  one: async ({ params, request, locals }) => {
    const form = await request.formData();
    const [backupId, storage] = [field(form, 'backupId').trim(), field(form, 'storage').trim()];
    const answer = { action: 'copy' as const, database: params.name, backupId, storage };
    if (!backupId || !storage) return fail(400, { ...answer, error: 'Choose the storage to copy the backup into.' });
    try {
      const actor = actorOf(locals);
      const backup = await services().backupReads.get(actor, backupId);
      if (backup.databaseName !== params.name)
        return fail(400, {
          ...answer,
          error: `backup ${backupId} belongs to database "${backup.databaseName}", not "${params.name}"`,
        });
      const started = await services().backups.replicate(actor, backupId, { storages: [storage] });
      return { ...answer, workflowIds: [started.workflowId] };
    } catch (err) {
      return fail(statusOf(err), { ...answer, error: message(err) });
    }
  },

  all: async ({ params, request, locals }) => {
    const storage = field(await request.formData(), 'storage').trim();
    const answer = { action: 'copyAll' as const, database: params.name, backupId: '', storage };
    if (!storage) return fail(400, { ...answer, error: 'Choose the storage to copy the backups into.' });
    try {
      const { started } = await services().backups.copyAllTo(actorOf(locals), params.name, storage);
      return { ...answer, workflowIds: started.map((s) => s.workflowId) };
    } catch (err) {
      return fail(statusOf(err), { ...answer, error: message(err) });
    }
  },
} satisfies Actions;
