import { error, fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { publicBase } from '#lib/server/sso.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const actor = actorOf(locals);
  try {
    const [users, workspaces] = await Promise.all([
      services().people.listUsers(actor),
      services().people.listWorkspaces(actor),
    ]);
    return { users, workspaces };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

const text = (form: FormData, key: string) => String(form.get(key) ?? '');

/** Each action answers with what it did or why not; the page shows it above the table. */
async function attempt(work: () => Promise<void>, done: string) {
  try {
    await work();
    return { ok: done };
  } catch (err) {
    return fail(statusOf(err), { error: message(err) });
  }
}

export const actions = {
  /** An invitation link for the address: the person sets their own password or signs in through SSO. */
  invite: async ({ request, locals, url }) => {
    const f = await request.formData();
    try {
      const email = text(f, 'email');
      const { link, expiresAt, emailed, notEmailed } = await services().sso.invite(actorOf(locals), {
        email,
        workspace: text(f, 'workspace'),
        role: text(f, 'role'),
        linkBase: publicBase(url),
      });
      const until = `${expiresAt.slice(0, 16).replace('T', ' ')} UTC`;
      return {
        ok: emailed
          ? `The invitation was emailed to ${email}; the link works once, until ${until}. Should the mail not arrive, send them this one:`
          : `Not emailed: ${notEmailed}. Send this one-time link to ${email}; it works until ${until}.`,
        link,
      };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  member: async ({ request, locals }) => {
    const f = await request.formData();
    return attempt(
      () => services().people.setMember(actorOf(locals), text(f, 'email'), text(f, 'workspace'), text(f, 'role')),
      `${text(f, 'email')} is ${text(f, 'role')} of ${text(f, 'workspace')}.`,
    );
  },
  remove: async ({ request, locals }) => {
    const f = await request.formData();
    return attempt(
      () => services().people.removeMember(actorOf(locals), text(f, 'email'), text(f, 'workspace')),
      `${text(f, 'email')} left ${text(f, 'workspace')}.`,
    );
  },
  disable: async ({ request, locals }) => {
    const f = await request.formData();
    const disabled = text(f, 'disabled') === 'true';
    return attempt(
      () => services().people.setUserDisabled(actorOf(locals), text(f, 'email'), disabled),
      `${text(f, 'email')} is ${disabled ? 'disabled; their sessions ended' : 'enabled again'}.`,
    );
  },
} satisfies Actions;
