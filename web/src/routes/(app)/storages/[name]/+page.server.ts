import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { statusFor } from '#lib/server/form.ts';
import { changeFrom, echo, settingsNamedIn } from '../config-form.ts';
import { testStoredStorage } from '../storage-actions.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params }) => {
  try {
    const storage = await services().setup.storageForm(actorOf(locals), params.name);
    return { storage, header: header(storage.temporalUiUrl) };
  } catch (err) {
    error(statusFor(err) === 404 ? 404 : 503, `Could not load storage "${params.name}": ${message(err)}`);
  }
};

export const actions = {
  /** Save: the service merges the change, refuses moving a storage that holds copies, and tests the connection first. */
  update: async ({ request, locals, params }) => {
    const form = await request.formData();
    try {
      await services().setup.updateStorage(actorOf(locals), params.name, changeFrom(form));
      return { updated: params.name };
    } catch (err) {
      const detail = message(err);
      return fail(statusFor(err), { update: { detail, settings: settingsNamedIn(detail), values: echo(form) } });
    }
  },
  test: testStoredStorage,
} satisfies Actions;
