import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { field, statusFor } from '#lib/server/form.ts';
import type { Actions, PageServerLoad } from './$types';

const STORAGE_TYPES = ['local', 's3', 'sftp', 'azure'] as const;

/** Which form fields are secrets: never echoed back into the page. */
const SECRET = new Set([
  's3_secretAccessKey',
  's3_sessionToken',
  'sftp_password',
  'sftp_privateKey',
  'sftp_passphrase',
  'azure_connectionString',
  'azure_accountKey',
]);

/** The storage configuration from the form's fields of the chosen type; blank fields are left out so the schema names what is missing. */
function configFrom(form: FormData): { type: string; [k: string]: unknown } {
  const type = field(form, 'type');
  const get = (name: string) => field(form, `${type}_${name}`).trim();
  const opt = (name: string) => (get(name) === '' ? {} : { [name]: get(name) });
  switch (type) {
    case 'local':
      return { type, path: get('path') };
    case 's3':
      return {
        type,
        ...opt('bucket'),
        ...opt('region'),
        ...opt('endpoint'),
        ...opt('prefix'),
        forcePathStyle: field(form, 's3_forcePathStyle') === 'on',
        ...opt('accessKeyId'),
        ...opt('secretAccessKey'),
        ...opt('sessionToken'),
      };
    case 'sftp':
      return {
        type,
        ...opt('host'),
        ...(get('port') ? { port: Number(get('port')) } : {}),
        ...opt('username'),
        path: get('path'),
        ...opt('password'),
        ...(get('privateKey')
          ? { privateKey: `${field(form, 'sftp_privateKey').replace(/\r\n/g, '\n').trim()}\n` }
          : {}),
        ...opt('passphrase'),
        ...opt('hostKeySha256'),
      };
    case 'azure':
      return {
        type,
        ...opt('container'),
        ...opt('prefix'),
        ...opt('connectionString'),
        ...opt('accountName'),
        ...opt('accountKey'),
        ...opt('endpoint'),
      };
    default:
      return { type };
  }
}

/** What the form showed, minus secrets, so a failed attempt keeps the user's typing. */
function echo(form: FormData): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of form.entries()) if (typeof v === 'string' && !SECRET.has(k)) values[k] = v;
  return values;
}

const workspaceOf = (form: FormData): number | undefined => {
  const id = Number(field(form, 'workspace'));
  return Number.isInteger(id) && id > 0 ? id : undefined;
};

export const load: PageServerLoad = async ({ locals }) => {
  try {
    const view = await services().setup.storages(actorOf(locals));
    return { view, types: STORAGE_TYPES, header: header(view.temporalUiUrl) };
  } catch (err) {
    error(503, `Could not load the storages: ${message(err)}`);
  }
};

export const actions = {
  /** "Test before saving" and "Save" share the form; the button pressed says which. */
  add: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'name').trim();
    const intent = field(form, 'intent') === 'test' ? 'test' : 'save';
    const config = configFrom(form);
    const values = echo(form);
    try {
      if (intent === 'test') {
        const check = await services().setup.testStorageConfig(actorOf(locals), name, config, workspaceOf(form));
        return check.ok
          ? { add: { tested: true, ok: true, detail: check.detail, elapsedMs: check.elapsedMs, values } }
          : fail(502, { add: { tested: true, ok: false, detail: check.detail, elapsedMs: check.elapsedMs, values } });
      }
      await services().setup.saveStorage(actorOf(locals), name, config, {
        skipCheck: field(form, 'skipCheck') === 'on',
        ...(workspaceOf(form) ? { workspaceId: workspaceOf(form)! } : {}),
      });
      return { saved: name };
    } catch (err) {
      return fail(statusFor(err), {
        add: { tested: intent === 'test', ok: false, detail: message(err), elapsedMs: 0, values },
      });
    }
  },
  test: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'storage');
    try {
      const check = await services().setup.testStorage(actorOf(locals), name);
      return check.ok ? { test: { storage: name, ...check } } : fail(502, { test: { storage: name, ...check } });
    } catch (err) {
      return fail(statusFor(err), { test: { storage: name, ok: false, detail: message(err), elapsedMs: 0 } });
    }
  },
  remove: async ({ request, locals }) => {
    const form = await request.formData();
    const name = field(form, 'storage');
    try {
      await services().setup.removeStorage(actorOf(locals), name);
      return { removed: name };
    } catch (err) {
      return fail(statusFor(err), { removeError: { storage: name, detail: message(err) } });
    }
  },
} satisfies Actions;
