/**
 * The storage forms' fields (named `<type>_<setting>`, see storage-form.ts) read back into a
 * configuration to add, or a change to merge over a stored one. Secrets are write-only both ways.
 */
import { field } from '#lib/server/form-fields.ts';

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
  [
    's3',
    (get) => ({
      forcePathStyle: get('forcePathStyle') === 'on',
      // Blank days reach the schema as 0, which it refuses with the range.
      ...(get('objectLockMode') !== '' && get('objectLockMode') !== 'off'
        ? { objectLock: { mode: get('objectLockMode'), days: Number(get('objectLockDays')) } }
        : {}),
    }),
  ],
  [
    'azure',
    (get) =>
      get('immutabilityMode') !== '' && get('immutabilityMode') !== 'off'
        ? { immutability: { mode: get('immutabilityMode'), days: Number(get('immutabilityDays')) } }
        : {},
  ],
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
export function configFrom(form: FormData): { type: string; [k: string]: unknown } {
  const type = field(form, 'type');
  const get: Setting = (name) => field(form, `${type}_${name}`).trim();
  const config: { type: string; [k: string]: unknown } = { type, ...OTHER_SETTINGS.get(type)?.(get) };
  for (const name of TEXT_SETTINGS.get(type) ?? []) if (get(name) !== '') config[name] = get(name);
  return config;
}

/**
 * The edit form as a change to merge over the stored settings: a blank secret is left out (the
 * stored one is kept), a blank optional setting is removed (null), settings the form does not show
 * (an S3 storage class, say) are not named and so kept.
 */
export function changeFrom(form: FormData): Record<string, unknown> {
  const { type, ...config } = configFrom(form);
  const change: Record<string, unknown> = { ...config };
  const optional = [...(TEXT_SETTINGS.get(type) ?? []), ...(type === 'sftp' ? ['port'] : [])];
  for (const name of optional) if (!(name in config) && !SECRET.has(`${type}_${name}`)) change[name] = null;
  // The form shows the Object Lock (S3) and the immutability (Azure): "off" drops them.
  if (type === 's3' && !('objectLock' in config)) change.objectLock = null;
  if (type === 'azure' && !('immutability' in config)) change.immutability = null;
  return change;
}

/** What the form showed, minus secrets, so a failed attempt keeps the user's typing. */
export function echo(form: FormData): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of form.entries()) if (typeof v === 'string' && !SECRET.has(k)) values[k] = v;
  return values;
}

/**
 * The settings a refusal names, so the page shows it beside them: the schema's `bucket: …` and the
 * location check's "changing its bucket, prefix would …".
 */
export function settingsNamedIn(refusal: string): string[] {
  const named = new Set<string>();
  for (const m of refusal.matchAll(/(?:^|[:;] )([a-zA-Z]+): /g)) named.add(m[1]!);
  const moved = /changing its ([a-zA-Z, ]+) would/.exec(refusal);
  for (const name of moved?.[1]?.split(', ') ?? []) named.add(name);
  return [...named];
}
