import { error, fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const field = (form: FormData, name: string): string => {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
};

const statusOf = (err: unknown): number => ((err as { kind?: string }).kind === 'forbidden' ? 403 : 400);

const scopeOf = (form: FormData): 'database' | 'workspace' =>
  field(form, 'scope') === 'workspace' ? 'workspace' : 'database';

export const load: PageServerLoad = async ({ params, locals }) => {
  try {
    return { view: await services().hooks.view(actorOf(locals), params.database) };
  } catch (err) {
    const text = message(err);
    error(
      /not registered|must be a registered name/.test(text) ? 404 : /not allowed|forbidden/i.test(text) ? 403 : 503,
      text,
    );
  }
};

// The scripts run on the shared worker as its user: only the instance owner may set one, an admin
// may remove one (services/hooks/service.ts); a refusal comes back as 403 with its reason.
export const actions = {
  save: async ({ params, request, locals }) => {
    const form = await request.formData();
    const kind = field(form, 'kind');
    const timeout = field(form, 'timeoutSeconds').trim();
    try {
      await services().hooks.save(actorOf(locals), {
        database: params.database,
        scope: scopeOf(form),
        kind,
        script: field(form, 'script').replace(/\r\n/g, '\n'),
        ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
      });
      return { saved: kind };
    } catch (err) {
      return fail(statusOf(err), { kind, error: message(err) });
    }
  },
  remove: async ({ params, request, locals }) => {
    const form = await request.formData();
    const kind = field(form, 'kind');
    try {
      await services().hooks.remove(actorOf(locals), { database: params.database, scope: scopeOf(form), kind });
      return { removed: kind };
    } catch (err) {
      return fail(statusOf(err), { kind, error: message(err) });
    }
  },
  createRole: async ({ params, request, locals }) => {
    const form = await request.formData();
    try {
      const created = await services().hooks.createBackupRole(actorOf(locals), params.database, {
        roleName: field(form, 'roleName').trim() || undefined,
        pitr: field(form, 'pitr') === 'on',
      });
      return { createdRole: created.role, readOnly: created.readOnly, notes: created.notes };
    } catch (err) {
      return fail(statusOf(err), { roleError: message(err) });
    }
  },
} satisfies Actions;
