import { error, fail } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { actionOn, field, statusFor } from '#lib/server/form.ts';
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

/** Each type's optional text settings (the form names them `s3_bucket`, …): blank ones are left out so the schema names what is missing. */
const TEXT_SETTINGS = new Map<string, readonly string[]>([
  ['s3', ['bucket', 'region', 'endpoint', 'prefix', 'accessKeyId', 'secretAccessKey', 'sessionToken']],
  ['sftp', ['host', 'username', 'password', 'passphrase', 'hostKeySha256']],
  ['azure', ['container', 'prefix', 'connectionString', 'accountName', 'accountKey', 'endpoint']],
]);

type Setting = (name: string) => string;

/** The settings that are not optional text: a path sent even blank, a flag, a port number, a key file. */
const OTHER_SETTINGS = new Map<string, (get: Setting) => Record<string, unknown>>([
  ['local', (get) => ({ path: get('path') })],
  ['s3', (get) => ({ forcePathStyle: get('forcePathStyle') === 'on' })],
  [
    'sftp',
    (get) => ({
      ...(get('port') ? { port: Number(get('port')) } : {}),
      path: get('path'),
      // A pasted key may carry CRLF line ends; it is kept as a key file is written: LF and a final newline.
      ...(get('privateKey') ? { privateKey: `${get('privateKey').replace(/\r\n/g, '\n')}\n` } : {}),
    }),
  ],
]);

/** The storage configuration from the form's fields of the chosen type. */
function configFrom(form: FormData): { type: string; [k: string]: unknown } {
  const type = field(form, 'type');
  const get: Setting = (name) => field(form, `${type}_${name}`).trim();
  const config: { type: string; [k: string]: unknown } = { type, ...OTHER_SETTINGS.get(type)?.(get) };
  for (const name of TEXT_SETTINGS.get(type) ?? []) if (get(name) !== '') config[name] = get(name);
  return config;
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
  test: actionOn(
    'storage',
    async (actor, name) => {
      const check = await services().setup.testStorage(actor, name);
      return check.ok ? { test: { storage: name, ...check } } : fail(502, { test: { storage: name, ...check } });
    },
    (name, err) => ({ test: { storage: name, ok: false, detail: message(err), elapsedMs: 0 } }),
  ),
  remove: actionOn(
    'storage',
    async (actor, name) => {
      await services().setup.removeStorage(actor, name);
      return { removed: name };
    },
    (name, err) => ({ removeError: { storage: name, detail: message(err) } }),
  ),
} satisfies Actions;
