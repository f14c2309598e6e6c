import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { takeFlash } from '#lib/server/flash.ts';
import type { ActorRef } from '#lib/server/view/types.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, cookies }) => {
  const actor = actorOf(locals);
  try {
    const [overview, status, pitrProofs] = await Promise.all([
      services().overview(actor),
      services().databaseStatus(actor),
      services().pitrProofs(actor),
    ]);
    const busy = overview.backups.some((b) => b.status === 'running' || b.restore?.status === 'running');
    return { overview, status, pitrProofs, header: header(overview.temporalUiUrl, busy), flash: takeFlash(cookies) };
  } catch (err) {
    // Operators run this console themselves: the real cause (catalog down, Temporal unreachable) helps more than "Internal Error".
    error(503, `Could not load the overview: ${message(err)}`);
  }
};

/** A card's button: `run` starts the job on the database the form names; a missing name or any error fails with 400. */
function onDatabase<R>(job: string, run: (actor: ActorRef, database: string) => Promise<R>) {
  return async ({ request, locals }: { request: Request; locals: App.Locals }) => {
    const database = (await request.formData()).get('database');
    if (typeof database !== 'string' || database.trim() === '') {
      return fail(400, { database: null, error: `No database was given to ${job}.` });
    }
    try {
      return await run(actorOf(locals), database);
    } catch (err) {
      return fail(400, { database, error: message(err) });
    }
  };
}

export const actions = {
  backup: onDatabase('back up', async (actor, database) => {
    const { backupId, workflowId } = await services().backups.start(actor, database, 'manual');
    return { database, backupId, workflowId };
  }),
  verify: onDatabase('verify', async (actor, database) => {
    const { verificationId, backupId } = await services().verifications.request(actor, database);
    return { database, verificationId, backupId };
  }),
} satisfies Actions;
