import { error, fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  try {
    return { workspaces: await services().people.listWorkspaces(actorOf(locals)) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

export const actions = {
  create: async ({ request, locals }) => {
    const name = String((await request.formData()).get('name') ?? '');
    try {
      await services().people.createWorkspace(actorOf(locals), name);
      return { ok: `Workspace ${name} created; you own it.` };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
} satisfies Actions;
