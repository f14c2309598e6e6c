import { error, fail, redirect } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { ActorRef } from '#lib/server/view/types.ts';
import type { PitrFormSettings } from '#lib/server/view/pitr.ts';
import { formValues, readPitrForm, type PitrFormValues } from './form.ts';
import type { Actions, PageServerLoad } from './$types';

/**
 * The PITR panel's actions, posted from the database page: a done action goes back there (`?pitr=`
 * says what was done, for the page without JavaScript); a refusal renders this route's page, the
 * panel alone with the refusal and what was typed.
 */
export const load: PageServerLoad = async ({ params, locals }) => {
  try {
    const pitr = await services().pitr.panel(actorOf(locals), params.name);
    return { pitr, header: header(null) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

type PitrAction = 'enable' | 'update' | 'disable' | 'takeBaseBackup';

const back = (database: string, done: string, extra = ''): never =>
  redirect(303, `/databases/${encodeURIComponent(database)}?pitr=${done}${extra}#pitr`);

function refused(action: PitrAction, err: unknown, values?: PitrFormValues) {
  return fail(statusOf(err), { action, error: message(err), ...(values ? { values } : {}) });
}

/**
 * Switching on and saving settings: the form read (a field named when wrong), then `save` as the
 * signed-in user; a refusal comes back with what was typed.
 */
function settingsAction(
  action: 'enable' | 'update',
  save: (actor: ActorRef, database: string, settings: PitrFormSettings) => Promise<unknown>,
  done: string,
) {
  return async ({ params, request, locals }: { params: { name: string }; request: Request; locals: App.Locals }) => {
    const actor = actorOf(locals);
    const values = formValues(await request.formData());
    const read = readPitrForm(values, await services().pitr.timezone(actor, params.name));
    if (!read.ok) return fail(400, { action, error: read.error, values });
    try {
      await save(actor, params.name, read.settings);
    } catch (err) {
      return refused(action, err, values);
    }
    back(params.name, done);
  };
}

export const actions = {
  enable: settingsAction(
    'enable',
    (actor, database, settings) => services().pitr.enable(actor, database, settings),
    'on',
  ),
  update: settingsAction(
    'update',
    (actor, database, settings) => services().pitr.update(actor, database, settings),
    'saved',
  ),

  disable: async ({ params, request, locals }) => {
    const confirm = (await request.formData()).get('confirm');
    if (confirm !== params.name)
      return fail(400, {
        action: 'disable' as const,
        error: `Type the database's name, ${params.name}, to switch point-in-time recovery off.`,
      });
    try {
      await services().pitr.disable(actorOf(locals), params.name);
    } catch (err) {
      return refused('disable', err);
    }
    back(params.name, 'off');
  },

  takeBaseBackup: async ({ params, locals }) => {
    let id: string;
    try {
      id = (await services().pitr.baseBackup(actorOf(locals), params.name)).baseBackupId;
    } catch (err) {
      return refused('takeBaseBackup', err);
    }
    back(params.name, 'base-backup', `&base=${encodeURIComponent(id)}`);
  },
} satisfies Actions;
