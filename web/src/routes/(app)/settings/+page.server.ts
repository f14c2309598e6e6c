import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  try {
    const view = await services().settings.view(actorOf(locals));
    // Owners see how single sign-on is set up; everyone else gets null (the section is not shown).
    const sso = await services()
      .sso.settings(actorOf(locals))
      .catch((err: unknown) => {
        if ((err as { kind?: string }).kind === 'forbidden') return null;
        throw err;
      });
    return { view, sso, header: header(view.facts.temporalUiUrl) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

const text = (form: FormData, key: string) => String(form.get(key) ?? '').trim();

export const actions = {
  /** The secret comes back in this answer only: the page shows it once, the catalog keeps its hash. */
  createToken: async ({ request, locals }) => {
    const f = await request.formData();
    const days = text(f, 'expiresInDays');
    const expiresInDays = days === '' ? null : Number(days);
    if (expiresInDays !== null && !Number.isInteger(expiresInDays))
      return fail(400, { error: 'Expires in: give a whole number of days (empty: 365).' });
    try {
      const created = await services().settings.createToken(actorOf(locals), {
        name: text(f, 'name'),
        workspace: text(f, 'workspace'),
        role: text(f, 'role'),
        expiresInDays,
      });
      return {
        created: {
          name: created.token.name,
          workspace: created.token.workspace,
          role: created.token.role,
          expiresAt: created.token.expiresAt,
          secret: created.secret,
        },
      };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  revokeToken: async ({ request, locals }) => {
    const f = await request.formData();
    try {
      const revoked = await services().settings.revokeToken(actorOf(locals), Number(text(f, 'id')));
      return { ok: `Token "${revoked.name}" (${revoked.prefix}…) is revoked: requests with it now get 401.` };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  /** The user's own password: the current one is checked; the user's other sessions end. */
  changePassword: async ({ request, locals }) => {
    const f = await request.formData();
    const next = String(f.get('next') ?? '');
    if (next !== String(f.get('confirm') ?? '')) return fail(400, { passwordError: 'The two new passwords differ.' });
    try {
      const current = String(f.get('current') ?? '');
      await services().people.changeOwnPassword(actorOf(locals), { current, next }, locals.sessionToken);
      return { passwordOk: 'Your password is changed; your other sessions are signed out.' };
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      return fail(kind === 'access_denied' ? 403 : statusOf(err), { passwordError: message(err) });
    }
  },
} satisfies Actions;
