import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const load: PageServerLoad = async ({ locals }) => {
  const actor = actorOf(locals);
  try {
    const [overview, status] = await Promise.all([services().overview(actor), services().databaseStatus(actor)]);
    const busy = overview.backups.some((b) => b.status === 'running' || b.restore?.status === 'running');
    return { overview, status, header: header(overview.temporalUiUrl, busy) };
  } catch (err) {
    // Operators run this console themselves: the real cause (catalog down, Temporal unreachable) helps more than "Internal Error".
    error(503, `Could not load the overview: ${message(err)}`);
  }
};

export const actions = {
  backup: async ({ request, locals }) => {
    const form = await request.formData();
    const database = form.get('database');
    if (typeof database !== 'string' || database.trim() === '') {
      return fail(400, { database: null, error: 'No database was given to back up.' });
    }
    try {
      const { backupId, workflowId } = await services().backups.start(actorOf(locals), database, 'manual');
      return { database, backupId, workflowId };
    } catch (err) {
      return fail(400, { database, error: message(err) });
    }
  },
  verify: async ({ request, locals }) => {
    const form = await request.formData();
    const database = form.get('database');
    if (typeof database !== 'string' || database.trim() === '') {
      return fail(400, { database: null, error: 'No database was given to verify.' });
    }
    try {
      const { verificationId, backupId } = await services().verifications.request(actorOf(locals), database);
      return { database, verificationId, backupId };
    } catch (err) {
      return fail(400, { database, error: message(err) });
    }
  },
} satisfies Actions;
