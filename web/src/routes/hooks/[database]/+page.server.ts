import { error, fail } from '@sveltejs/kit';
import { services } from '$lib/server/services';
import type { Actions, PageServerLoad } from './$types';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const field = (form: FormData, name: string): string => {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
};

const scopeOf = (form: FormData): 'database' | 'workspace' => (field(form, 'scope') === 'workspace' ? 'workspace' : 'database');

export const load: PageServerLoad = async ({ params }) => {
  try {
    return { view: await services().hooks.view(params.database) };
  } catch (err) {
    const text = message(err);
    error(/not registered|must be a registered name/.test(text) ? 404 : 503, text);
  }
};

// The scripts run on the workers as their user: only admins may change them. The check is
// added in front of these actions where roles are enforced, in one place for every route.
export const actions = {
  save: async ({ params, request }) => {
    const form = await request.formData();
    const kind = field(form, 'kind');
    const timeout = field(form, 'timeoutSeconds').trim();
    try {
      await services().hooks.save({
        database: params.database, scope: scopeOf(form), kind, script: field(form, 'script').replace(/\r\n/g, '\n'),
        ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
      });
      return { saved: kind };
    } catch (err) {
      return fail(400, { kind, error: message(err) });
    }
  },
  remove: async ({ params, request }) => {
    const form = await request.formData();
    const kind = field(form, 'kind');
    try {
      await services().hooks.remove({ database: params.database, scope: scopeOf(form), kind });
      return { removed: kind };
    } catch (err) {
      return fail(400, { kind, error: message(err) });
    }
  },
  createRole: async ({ params, request }) => {
    const form = await request.formData();
    try {
      const created = await services().hooks.createBackupRole(params.database, { roleName: field(form, 'roleName').trim() || undefined, pitr: field(form, 'pitr') === 'on' });
      return { createdRole: created.role, readOnly: created.readOnly, notes: created.notes };
    } catch (err) {
      return fail(400, { roleError: message(err) });
    }
  },
} satisfies Actions;
