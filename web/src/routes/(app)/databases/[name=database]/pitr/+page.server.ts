import { error, fail, redirect } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { ActorRef } from '#lib/server/view/types.ts';
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

type PitrAction = 'enable' | 'update' | 'disable' | 'baseBackup';

const back = (database: string, done: string, extra = ''): never =>
  redirect(303, `/databases/${encodeURIComponent(database)}?pitr=${done}${extra}#pitr`);

function refused(action: PitrAction, err: unknown, values?: PitrFormValues) {
  return fail(statusOf(err), { action, error: message(err), ...(values ? { values } : {}) });
}

/** Reads the settings form; a refusal (a field named) or the settings to save. */
async function settingsFrom(request: Request, actor: ActorRef, database: string) {
  const values = formValues(await request.formData());
  return { values, read: readPitrForm(values, await services().pitr.timezone(actor, database)) };
}

export const actions = {
  enable: async ({ params, request, locals }) => {
    const actor = actorOf(locals);
    const { values, read } = await settingsFrom(request, actor, params.name);
    if (!read.ok) return fail(400, { action: 'enable' as const, error: read.error, values });
    try {
      await services().pitr.enable(actor, params.name, read.settings);
    } catch (err) {
      return refused('enable', err, values);
    }
    back(params.name, 'on');
  },

  update: async ({ params, request, locals }) => {
    const actor = actorOf(locals);
    const { values, read } = await settingsFrom(request, actor, params.name);
    if (!read.ok) return fail(400, { action: 'update' as const, error: read.error, values });
    try {
      await services().pitr.update(actor, params.name, read.settings);
    } catch (err) {
      return refused('update', err, values);
    }
    back(params.name, 'saved');
  },

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

  baseBackup: async ({ params, locals }) => {
    let id: string;
    try {
      id = (await services().pitr.baseBackup(actorOf(locals), params.name)).baseBackupId;
    } catch (err) {
      return refused('baseBackup', err);
    }
    back(params.name, 'base-backup', `&baseBackup=${encodeURIComponent(id)}`);
  },
} satisfies Actions;
