import { error, fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { WorkspaceEncryptionSetting } from '../../../../../../services/databases/input.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params }) => {
  try {
    return { view: await services().people.workspaceEncryption(actorOf(locals), params.workspace) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

/** The form's mode and value as the service's setting (the service checks them). */
function settingOf(form: FormData): WorkspaceEncryptionSetting {
  const mode = String(form.get('mode') ?? '');
  const value = String(form.get('value') ?? '').trim();
  if (mode === 'public-key') return { mode, recipient: value };
  if (mode === 'kms') return { mode, key: value };
  return { mode: 'secret-key' };
}

export const actions = {
  encryption: async ({ request, locals, params }) => {
    const setting = settingOf(await request.formData());
    try {
      await services().people.setWorkspaceEncryption(actorOf(locals), params.workspace, setting);
      return {
        ok:
          setting.mode === 'secret-key'
            ? `Workspace ${params.workspace} has no default encryption: its databases without their own use the secret key.`
            : `Workspace ${params.workspace} encrypts its databases without their own setting by default from their next backup.`,
      };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
} satisfies Actions;
