import { error, fail, redirect } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { field, fields, statusFor } from '#lib/server/form.ts';
import type { Actions, PageServerLoad } from './$types';

/** What the form showed, minus the URL (it carries the password), so a failed attempt keeps the rest. */
function echo(form: FormData) {
  return {
    name: field(form, 'name'),
    storages: fields(form, 'storages'),
    schedule: field(form, 'schedule'),
    timezone: field(form, 'timezone'),
    workspace: field(form, 'workspace'),
  };
}

const workspaceOf = (form: FormData): number => {
  const id = Number(field(form, 'workspace'));
  return Number.isInteger(id) && id > 0 ? id : 1;
};

export const load: PageServerLoad = async ({ locals }) => {
  try {
    const view = await services().setup.newDatabase(actorOf(locals));
    return { view, timeZones: Intl.supportedValuesOf('timeZone'), header: header(view.temporalUiUrl) };
  } catch (err) {
    error(503, `Could not load the form: ${message(err)}`);
  }
};

export const actions = {
  /** Connects as `hindsight db add` does and reports the server's version and the database's size; saves nothing. */
  test: async ({ request, locals }) => {
    const form = await request.formData();
    try {
      const check = await services().setup.testDatabaseUrl(
        actorOf(locals),
        field(form, 'url').trim(),
        workspaceOf(form),
      );
      return check.ok ? { check, values: echo(form) } : fail(502, { check, values: echo(form) });
    } catch (err) {
      return fail(statusFor(err), { check: { ok: false, detail: message(err), elapsedMs: 0 }, values: echo(form) });
    }
  },
  save: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'name').trim();
    const schedule = field(form, 'schedule').trim();
    let added: { name: string; adopted: { count: number; storages: string[] } };
    try {
      added = await services().setup.addDatabase(actorOf(locals), {
        name,
        url: field(form, 'url').trim(),
        storages: fields(form, 'storages'),
        schedule: schedule === '' ? null : schedule,
        timezone: field(form, 'timezone').trim() || 'UTC',
        workspaceId: workspaceOf(form),
      });
    } catch (err) {
      return fail(statusFor(err), { error: message(err), values: echo(form) });
    }
    // Earlier backups taken back from storage are news worth a stop on this page; otherwise straight on.
    if (added.adopted.count > 0) return { added };
    redirect(303, `/databases/${encodeURIComponent(name)}`);
  },
} satisfies Actions;
