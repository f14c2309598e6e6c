import { error, fail, redirect } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { removalNotice, renameNotice, setFlash, takeFlash } from '#lib/server/flash.ts';
import { field, fields, statusFor } from '#lib/server/form.ts';
import { services } from '#lib/server/services.ts';
import type { UpdateDatabaseInput } from '#lib/server/view/database-settings.ts';
import type { ActorRef } from '#lib/server/view/types.ts';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

/** The sections of the page, each its own form: an answer names the one it belongs to. */
type Section = 'name' | 'connection' | 'storages' | 'dump' | 'verification' | 'health' | 'drill';

/** A number field: blank means "not changed", anything else is left for the service's schema to judge. */
const numberField = (form: FormData, name: string): number | undefined => {
  const text = field(form, name).trim();
  return text === '' ? undefined : Number(text);
};

/** The URL as typed, minus any password in it: a refused form is shown again, but a password never goes back. */
function withoutPassword(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** What each section's form changes; the service validates it (ranges, names, the connection). */
const CHANGES: Record<Exclude<Section, 'name' | 'drill'>, (form: FormData) => UpdateDatabaseInput> = {
  connection: (form) => {
    const url = field(form, 'url').trim();
    const password = field(form, 'password');
    return {
      ...(url !== '' && { url }),
      ...(password !== '' && { password }),
      skipCheck: form.has('skipCheck'),
    };
  },
  storages: (form) => ({ storages: fields(form, 'storages') }),
  dump: (form) => ({ parallelJobs: numberField(form, 'parallelJobs') }),
  verification: (form) => ({ verifyAfterBackup: form.has('verifyAfterBackup') }),
  health: (form) => ({
    healthIntervalSeconds: numberField(form, 'healthIntervalSeconds'),
    healthFailureThreshold: numberField(form, 'healthFailureThreshold'),
  }),
};

/** What a refused form shows again: what was typed, never a password. */
function echo(section: Section, form: FormData): Record<string, string | string[] | boolean> {
  if (section === 'name') return { name: field(form, 'name').trim() };
  if (section === 'connection')
    return { url: withoutPassword(field(form, 'url').trim()), skipCheck: form.has('skipCheck') };
  if (section === 'storages') return { storages: fields(form, 'storages') };
  if (section === 'dump') return { parallelJobs: field(form, 'parallelJobs') };
  if (section === 'drill') return { target: withoutPassword(field(form, 'target').trim()), cron: field(form, 'cron') };
  if (section === 'health')
    return {
      healthIntervalSeconds: field(form, 'healthIntervalSeconds'),
      healthFailureThreshold: field(form, 'healthFailureThreshold'),
    };
  return {};
}

/**
 * A section's action: `run` does it as the signed-in user and its answer goes to that section's
 * form; a refusal comes back there too, with the message and what was typed.
 */
function sectionAction<R extends Record<string, unknown>>(
  section: Section,
  run: (actor: ActorRef, database: string, form: FormData) => Promise<R>,
) {
  return async ({ params, request, locals }: RequestEvent) => {
    const form = await request.formData();
    try {
      return { section, ...(await run(actorOf(locals), params.name, form)) };
    } catch (err) {
      return fail(statusFor(err), { section, error: message(err), values: echo(section, form) });
    }
  };
}

/** A section's save: the changes its form describes, through DatabaseService.update. */
const save = (section: Exclude<Section, 'name' | 'drill'>) =>
  sectionAction(section, async (actor, database, form) => {
    if (section === 'storages' && fields(form, 'storages').length === 0)
      throw new Error('Choose at least one storage: every backup is written to the storages chosen here.');
    await services().databaseSettings.update(actor, database, CHANGES[section](form));
    return { saved: true };
  });

export const load: PageServerLoad = async ({ params, locals, cookies }) => {
  const view = await services()
    .databaseSettings.view(actorOf(locals), params.name)
    .catch((err: unknown) => {
      const status = statusOf(err);
      return error(status === 400 ? 503 : status, message(err));
    });
  // A rename lands here under the new name, with its notice.
  return { view, header: header(view.temporalUiUrl), flash: takeFlash(cookies) };
};

export const actions = {
  connection: save('connection'),
  storages: save('storages'),
  dump: save('dump'),
  verification: save('verification'),
  health: save('health'),

  /** The restore drill: a blank field keeps what is saved (a cron never saved is the monthly default). */
  drill: sectionAction('drill', async (actor, database, form) => {
    const target = field(form, 'target').trim();
    const cron = field(form, 'cron').trim();
    await services().databaseSettings.setDrill(actor, database, {
      ...(target !== '' && { target }),
      ...(cron !== '' && { cron }),
    });
    return { saved: true };
  }),
  drillOff: sectionAction('drill', async (actor, database) => {
    await services().databaseSettings.setDrill(actor, database, null);
    return { saved: true };
  }),

  /** Connects with the stored credentials, as a backup would; saves nothing. */
  test: sectionAction('connection', async (actor, database) => ({
    check: await services().setup.testDatabase(actor, database),
  })),

  /**
   * Renames the database, then opens its settings under the new name with a notice; a refusal (a
   * name taken, PITR on, a job running) comes back by the name field.
   */
  rename: async (event) => {
    const answer = await sectionAction('name', async (actor, database, form) => ({
      renamed: await services().databaseSettings.rename(actor, database, field(form, 'name')),
      from: database,
    }))(event);
    if (!('renamed' in answer)) return answer;
    setFlash(event.cookies, renameNotice(answer.from, answer.renamed));
    redirect(303, `/databases/${encodeURIComponent(answer.renamed)}/settings`);
  },

  /** Removes the database once its name is typed; its backups stay in storage unless "delete" is chosen. */
  remove: async ({ params, request, locals, cookies }) => {
    const form = await request.formData();
    const backups = field(form, 'backups');
    const confirm = field(form, 'confirm').trim();
    if (backups !== 'keep' && backups !== 'delete')
      return fail(400, { section: 'remove' as const, error: 'Choose whether to keep or delete its backups.' });
    if (confirm !== params.name)
      return fail(400, {
        section: 'remove' as const,
        backups,
        error: `Type the database's name, ${params.name}, to confirm: nothing was removed.`,
      });
    let outcome;
    try {
      outcome = await services().databaseSettings.remove(actorOf(locals), params.name, { backups });
    } catch (err) {
      return fail(statusFor(err), { section: 'remove' as const, backups, error: message(err) });
    }
    // What really became of its backups: how many, kept or deleted, in which storages.
    setFlash(cookies, removalNotice(outcome));
    redirect(303, '/');
  },
} satisfies Actions;
