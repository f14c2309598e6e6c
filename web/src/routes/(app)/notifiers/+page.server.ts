import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { actionOn, field, fields, statusFor } from '#lib/server/form.ts';
import type { Actions, PageServerLoad } from './$types';

/** Form fields that hold secrets: never echoed back. */
const SECRET_FIELDS = new Set(['url', 'authPass', 'botToken', 'headers', 'secret']);

export const load: PageServerLoad = async ({ locals, url }) => {
  const actor = actorOf(locals);
  const editName = url.searchParams.get('edit');
  try {
    const [view, choices, editing] = await Promise.all([
      services().notifiers(actor),
      services().setup.notifierChoices(actor),
      editName ? services().setup.notifierForm(actor, editName) : Promise.resolve(null),
    ]);
    return { view, choices, editing, header: header(view.temporalUiUrl) };
  } catch (err) {
    error(statusFor(err) === 404 ? 404 : 503, `Could not load the notifiers: ${message(err)}`);
  }
};

export const actions = {
  /** "Send test": the receiver's answer or error is shown beside the notifier. */
  test: async ({ request, locals }) => {
    const form = await request.formData();
    const name = form.get('notifier');
    if (typeof name !== 'string' || name.trim() === '')
      return fail(400, { notifier: null, ok: false, detail: 'No notifier was named.' });
    try {
      const result = await services().testNotifier(actorOf(locals), name);
      return result.ok ? { notifier: name, ...result } : fail(502, { notifier: name, ...result });
    } catch (err) {
      return fail((err as { kind?: string }).kind === 'forbidden' ? 403 : 400, {
        notifier: name,
        ok: false,
        detail: message(err),
      });
    }
  },
  /** Add or change a notifier; a secret field left blank keeps what is stored. */
  save: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'name').trim();
    const type = field(form, 'type');
    // Each type's inputs carry its prefix (webhook_url, slack_url): without JavaScript every group is in the form.
    const typeFields: Record<string, string> = {};
    const values: Record<string, string> = { name, type };
    for (const [k, v] of form.entries()) {
      if (typeof v !== 'string' || !k.startsWith(`${type}_`)) continue;
      const bare = k.slice(type.length + 1);
      typeFields[bare] = v;
      if (!SECRET_FIELDS.has(bare)) values[k] = v;
    }
    const workspace = Number(field(form, 'workspace'));
    try {
      await services().setup.saveNotifier(actorOf(locals), {
        name,
        type,
        fields: typeFields,
        events: fields(form, 'events'),
        databases: fields(form, 'databases'),
        ...(Number.isInteger(workspace) && workspace > 0 ? { workspaceId: workspace } : {}),
      });
      return { saved: name };
    } catch (err) {
      return fail(statusFor(err), {
        saveError: message(err),
        values,
        events: fields(form, 'events'),
        databases: fields(form, 'databases'),
      });
    }
  },
  remove: actionOn(
    'notifier',
    async (actor, name) => {
      await services().setup.removeNotifier(actor, name);
      return { removed: name };
    },
    (name, err) => ({ removeError: message(err), notifier: name }),
    { confirm: true },
  ),
} satisfies Actions;
