/**
 * Where a KMS key-encryption key lives and how to reach it: one variant per provider, with the
 * secret fields marked so that the catalog seals them and audit entries mask them. No SDK loads here.
 *
 * Another provider slots in as one more variant of the union, with its secret fields and a wrapper
 * module beside aws.ts and vault.ts, and a case in `kmsWrapper` (index.ts):
 *   'gcp'              keyName `projects/…/locations/…/keyRings/…/cryptoKeys/…`, credentials a
 *                      service-account JSON (secret); Encrypt/Decrypt with the WrapContext as
 *                      additionalAuthenticatedData (canonical bytes, context.ts).
 *   'azure-key-vault'  vaultUrl and keyName (plus version), a client secret or certificate (secret);
 *                      wrapKey/unwrapKey with RSA-OAEP-256, whose lack of associated data is made up
 *                      by wrapping the data key together with a digest of the context.
 */
import { z } from 'zod';
import type { Keyring } from '../../keyring.ts';
import { openSealedConfig, sealSecrets } from '../../../catalog/sealed-config.ts';
import { splitSecretFields, type SplitConfig } from '../../../secret-fields.ts';

/** A key id, key ARN, alias name or alias ARN, as KMS's KeyId accepts them. */
const AWS_KEY_ID =
  /^(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)\/[A-Za-z0-9/_+=.@-]+|alias\/[A-Za-z0-9/_-]+|(?:mrk-)?[A-Fa-f0-9-]{32,36})$/;
/** Vault's names for keys and mounts: letters, digits, '-', '_' and '.', and '/' within a mount path. */
const VAULT_KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VAULT_MOUNT = /^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$|^[A-Za-z0-9]$/;

export const awsKmsConfig = z
  .object({
    provider: z.literal('aws'),
    keyId: z
      .string({ error: 'keyId is required' })
      .regex(AWS_KEY_ID, 'keyId must be a KMS key id, key ARN, alias/<name> or alias ARN'),
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'region must be an AWS region such as eu-west-1'),
    endpoint: z
      .url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL, e.g. https://kms.eu-west-1.amazonaws.com' })
      .optional(),
    accessKeyId: z.string().min(1, 'accessKeyId must not be empty').optional(),
    secretAccessKey: z.string().min(1, 'secretAccessKey must not be empty').optional(),
    sessionToken: z.string().min(1, 'sessionToken must not be empty').optional(),
  })
  .strict()
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together: set both, or neither to use the default credential chain',
    path: ['secretAccessKey'],
  })
  .refine((c) => c.sessionToken === undefined || c.accessKeyId !== undefined, {
    message: 'sessionToken needs accessKeyId and secretAccessKey',
    path: ['sessionToken'],
  });
export type AwsKmsConfig = z.infer<typeof awsKmsConfig>;

export const vaultTransitConfig = z
  .object({
    provider: z.literal('vault'),
    address: z.url({
      protocol: /^https?$/,
      error: 'address must be an http(s) URL, e.g. https://vault.example.com:8200',
    }),
    mount: z.string().regex(VAULT_MOUNT, 'mount must be the transit engine\'s path, e.g. "transit"').default('transit'),
    keyName: z
      .string({ error: 'keyName is required' })
      .regex(VAULT_KEY_NAME, 'keyName must be a transit key name (letters, digits, ".", "-", "_")'),
    /**
     * How the WrapContext binds: `associated_data` for AEAD keys (aes256-gcm96, chacha20-poly1305),
     * `context` for keys created with derived=true (the context derives the key).
     */
    contextAs: z
      .enum(['associated_data', 'context'], { error: 'contextAs must be "associated_data" or "context"' })
      .default('associated_data'),
    namespace: z.string().min(1, 'namespace must not be empty').optional(),
    token: z.string({ error: 'token is required' }).min(1, 'token must not be empty'),
  })
  .strict();
export type VaultTransitConfig = z.infer<typeof vaultTransitConfig>;

export const kmsConfigSchema = z.discriminatedUnion('provider', [awsKmsConfig, vaultTransitConfig]);
export type KmsConfig = z.infer<typeof kmsConfigSchema>;
/** A configuration as given, before the schema fills in its defaults (a Vault mount, contextAs). */
export type KmsConfigInput = z.input<typeof kmsConfigSchema>;
export type KmsProvider = KmsConfig['provider'];

/** Fields sealed with the secret key in the catalog and never shown or logged. */
const secretFields: Record<KmsProvider, readonly string[]> = {
  aws: ['secretAccessKey', 'sessionToken'],
  vault: ['token'],
};

export const kmsSecretFieldNames: ReadonlySet<string> = new Set(Object.values(secretFields).flat());

export function splitKmsSecrets(config: KmsConfig): SplitConfig {
  return splitSecretFields(config, secretFields[config.provider]);
}

/** The configuration with each secret replaced by a marker: what the audit log records. */
export function maskKmsSecrets(config: KmsConfig): Record<string, unknown> {
  const { settings, secrets } = splitKmsSecrets(config);
  return { ...settings, ...Object.fromEntries(Object.keys(secrets).map((field) => [field, '[secret]'])) };
}

/** The catalog's form: plain settings, and the secrets sealed bound to `context` (e.g. `kms:offsite`). */
export function sealKmsConfig(
  keys: Keyring,
  config: KmsConfig,
  context: string,
): { settings: Record<string, unknown>; sealed: string | null } {
  const { settings, secrets } = splitKmsSecrets(config);
  return { settings, sealed: sealSecrets(keys, secrets, context) };
}

/** The catalog's form opened again and validated; `name` is how the error names this KMS. */
export function openKmsConfig(
  keys: Keyring,
  saved: { settings: Record<string, unknown>; sealed: string | null; context: string },
  name: string,
): KmsConfig {
  return openSealedConfig(keys, saved, kmsConfigSchema, {
    what: `KMS "${name}"`,
    fix: 'save its settings again with the credentials',
  });
}
