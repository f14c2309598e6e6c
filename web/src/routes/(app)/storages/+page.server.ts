import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { actionOn, field, statusFor } from '#lib/server/form.ts';
import { configFrom, echo } from './config-form.ts';
import { testStoredStorage } from './storage-actions.ts';
import type { Actions, PageServerLoad } from './$types';

const STORAGE_TYPES = ['local', 's3', 'sftp', 'azure'] as const;

const workspaceOf = (form: FormData): number | undefined => {
  const id = Number(field(form, 'workspace'));
  return Number.isInteger(id) && id > 0 ? id : undefined;
};

export const load: PageServerLoad = async ({ locals }) => {
  try {
    const view = await services().setup.storages(actorOf(locals));
    return { view, types: STORAGE_TYPES, header: header(view.temporalUiUrl) };
  } catch (err) {
    error(503, `Could not load the storages: ${message(err)}`);
  }
};

export const actions = {
  /** "Test before saving" and "Save" share the form; the button pressed says which. */
  add: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'name').trim();
    const intent = field(form, 'intent') === 'test' ? 'test' : 'save';
    const config = configFrom(form);
    const values = echo(form);
    try {
      if (intent === 'test') {
        const check = await services().setup.testStorageConfig(actorOf(locals), name, config, workspaceOf(form));
        return check.ok
          ? { add: { tested: true, ok: true, detail: check.detail, elapsedMs: check.elapsedMs, values } }
          : fail(502, { add: { tested: true, ok: false, detail: check.detail, elapsedMs: check.elapsedMs, values } });
      }
      await services().setup.saveStorage(actorOf(locals), name, config, {
        skipCheck: field(form, 'skipCheck') === 'on',
        ...(workspaceOf(form) ? { workspaceId: workspaceOf(form)! } : {}),
      });
      return { saved: name };
    } catch (err) {
      return fail(statusFor(err), {
        add: { tested: intent === 'test', ok: false, detail: message(err), elapsedMs: 0, values },
      });
    }
  },
  test: testStoredStorage,
  remove: actionOn(
    'storage',
    async (actor, name) => {
      await services().setup.removeStorage(actor, name);
      return { removed: name };
    },
    (name, err) => ({ removeError: { storage: name, detail: message(err) } }),
    { confirm: true },
  ),
} satisfies Actions;
