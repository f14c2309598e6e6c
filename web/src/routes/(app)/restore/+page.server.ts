import { error, fail, redirect } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { field, statusFor } from '#lib/server/form.ts';
import { zonedToRfc3339 } from '../../../../../services/restores/zoned-time.ts';
import { restoreRequest } from '#lib/server/view/restore-request.ts';
import type { RestoreStartInput } from '#lib/server/view/setup-types.ts';
import type { Actions, PageServerLoad } from './$types';

export type SourceKind = 'backup' | 'pitr' | 'latest';
export type TargetKind = 'new' | 'url' | 'directory' | 'sandbox';

/** The wizard's choices so far, carried in the query string (never a secret: the target URL is asked for on the last step, by POST). */
export interface WizardChoice {
  database: string;
  source: SourceKind | '';
  backup: string;
  time: string;
  tz: string;
  to: TargetKind | '';
  name: string;
  directory: string;
  agent: string;
  /** 'on' when a directory restore stops its server once recovery is verified. */
  thenStop: 'on' | '';
}

const oneOf = <T extends string>(value: string, allowed: readonly T[]): T | '' =>
  (allowed as readonly string[]).includes(value) ? (value as T) : '';

function choiceFrom(get: (name: string) => string): WizardChoice {
  return {
    database: get('database').trim(),
    source: oneOf(get('source'), ['backup', 'pitr', 'latest'] as const),
    backup: get('backup').trim(),
    time: get('time').trim(),
    tz: get('tz').trim() || 'UTC',
    to: oneOf(get('to'), ['new', 'url', 'directory', 'sandbox'] as const),
    name: get('name').trim(),
    directory: get('directory').trim(),
    agent: get('agent').trim(),
    thenStop: get('thenStop') === 'on' ? 'on' : '',
  };
}

/**
 * The target URL with the password typed in its own field (kept out of the URL field, so that it
 * is never shown while typing). A URL that does not parse is passed on unchanged for the service
 * to refuse in its own words; the password is never part of an error.
 */
function withPassword(url: string, password: string): string {
  if (password === '') return url.trim();
  try {
    const parsed = new URL(url.trim());
    parsed.password = password;
    return parsed.toString();
  } catch {
    return url.trim();
  }
}

export const load: PageServerLoad = async ({ url, locals }) => {
  const choice = choiceFrom((name) => url.searchParams.get(name) ?? '');
  const actor = actorOf(locals);
  let wizard;
  try {
    wizard = await services().setup.restoreWizard(actor, choice.database || undefined);
  } catch (err) {
    error(503, `Could not load the restore wizard: ${message(err)}`);
  }
  const db = wizard.database;
  let step: 1 | 2 | 3 | 4 = 1;
  let problem: string | null = null;
  let zonedTime: string | null = null;
  if (choice.database && !db) problem = `There is no database "${choice.database}" that you may restore.`;
  else if (db && !choice.source) step = 2;
  else if (db) {
    step = 3;
    if (choice.source === 'backup') {
      if (choice.backup !== 'newest' && !db.backups.some((b) => b.id === choice.backup)) {
        step = 2;
        problem = 'Choose one of the listed backups.';
      }
    } else if (!db.pitr) {
      step = 2;
      problem = `"${db.name}" has no point-in-time recovery; choose a backup.`;
    } else if (choice.source === 'pitr') {
      try {
        const zoned = zonedToRfc3339(choice.time, choice.tz);
        zonedTime = zoned.rfc3339;
        // The restore's start and its workflow decide with the same windows (lib/pitr/window.ts).
        await services().restores.check(actor, db.name, { time: zoned.rfc3339 });
      } catch (err) {
        step = 2;
        problem = message(err);
      }
    } else if (db.pitr.windows.length === 0) {
      step = 2;
      problem = 'There is no recoverable window yet: wait for a base backup and its WAL.';
    }
    if (step === 3 && choice.to) {
      const logical = choice.source === 'backup';
      if (logical && (choice.to === 'directory' || choice.to === 'sandbox'))
        problem = 'A backup restores into a database: a new one on the source server, or an existing one by URL.';
      else if (!logical && choice.to === 'new')
        problem = 'A point in time restores into an empty directory on an agent, a sandbox, or another server by URL.';
      else if (choice.to === 'new' && !/^[a-z_][a-z0-9_]{0,62}$/.test(choice.name))
        problem = 'Name the new database: lowercase letters, digits or "_", starting with a letter.';
      else if (choice.to === 'directory' && !choice.directory.startsWith('/'))
        problem = 'The directory must be an absolute path, e.g. /var/lib/postgresql/restore.';
      else step = 4;
    }
  }
  return {
    wizard,
    choice,
    step,
    problem,
    zonedTime,
    timeZones: Intl.supportedValuesOf('timeZone'),
    header: header(wizard.temporalUiUrl),
  };
};

export const actions = {
  start: async ({ request, locals }) => {
    const form = await request.formData();
    const choice = choiceFrom((name) => field(form, name));
    const source: RestoreStartInput['source'] =
      choice.source === 'backup'
        ? { kind: 'backup', backupId: choice.backup }
        : choice.source === 'pitr'
          ? { kind: 'pitr', time: choice.time, timezone: choice.tz }
          : { kind: 'pitr-latest' };
    const to: RestoreStartInput['to'] =
      choice.to === 'url'
        ? {
            kind: 'url',
            url: withPassword(field(form, 'url'), field(form, 'password')),
            ...(field(form, 'withOwners') === 'on' ? { withOwners: true } : {}),
            ...(field(form, 'privilegedRoles') === 'on' ? { privilegedRoles: true } : {}),
          }
        : choice.to === 'directory'
          ? {
              kind: 'directory',
              directory: choice.directory,
              ...(choice.agent ? { agent: choice.agent } : {}),
              ...(choice.thenStop ? { thenStop: true } : {}),
            }
          : choice.to === 'sandbox'
            ? { kind: 'sandbox' }
            : { kind: 'new', name: choice.name };
    let workflowId: string;
    try {
      const request = restoreRequest({ database: choice.database, confirm: field(form, 'confirm'), source, to });
      ({ workflowId } = await services().restores.start(actorOf(locals), request));
    } catch (err) {
      return fail(statusFor(err), { error: message(err) });
    }
    redirect(303, `/restores/${workflowId.split('/').map(encodeURIComponent).join('/')}`);
  },
} satisfies Actions;
