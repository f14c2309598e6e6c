import { error, fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  try {
    const actor = actorOf(locals);
    return {
      workspaces: await services().people.listWorkspaces(actor),
      requiringSecondFactor: await services().secondFactors.workspacesRequiringSecondFactor(actor),
    };
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
  /** Members without a second factor are sent to enrol one at their next page. */
  secondFactor: async ({ request, locals }) => {
    const form = await request.formData();
    const workspace = String(form.get('workspace') ?? '');
    const required = form.get('required') === 'yes';
    try {
      await services().secondFactors.setSecondFactorRequired(actorOf(locals), workspace, required);
      return {
        ok: required
          ? `Workspace ${workspace} requires a second factor: members without one are sent to enrol.`
          : `Workspace ${workspace} no longer requires a second factor.`,
      };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
} satisfies Actions;
