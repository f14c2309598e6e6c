import { error, fail } from '@sveltejs/kit';
import { services } from '$lib/server/services';
import { actorOf } from '$lib/server/actor';
import type { Actions, PageServerLoad } from './$types';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const load: PageServerLoad = async ({ locals }) => {
  try {
    return { view: await services().notifiers(actorOf(locals)) };
  } catch (err) {
    error(503, `Could not load the notifiers: ${message(err)}`);
  }
};

export const actions = {
  /** "Send test": the receiver's answer or error is shown beside the notifier. */
  test: async ({ request, locals }) => {
    const form = await request.formData();
    const name = form.get('notifier');
    if (typeof name !== 'string' || name.trim() === '') return fail(400, { notifier: null, ok: false, detail: 'No notifier was named.' });
    try {
      const result = await services().testNotifier(actorOf(locals), name);
      return result.ok ? { notifier: name, ...result } : fail(502, { notifier: name, ...result });
    } catch (err) {
      return fail((err as { kind?: string }).kind === 'forbidden' ? 403 : 400, { notifier: name, ok: false, detail: message(err) });
    }
  },
} satisfies Actions;
