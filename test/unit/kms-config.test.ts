import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openKeyring } from '../../lib/crypto/keyring.ts';
import { generateSecretKey, writeNewKeyFile } from '../../lib/crypto/secret-key.ts';
import { keyStateError, translateAwsKmsError } from '../../lib/crypto/wrap/kms/aws-errors.ts';
import {
  kmsConfigSchema,
  maskKmsSecrets,
  openKmsConfig,
  sealKmsConfig,
  splitKmsSecrets,
  type KmsConfig,
} from '../../lib/crypto/wrap/kms/config.ts';
import { canonicalContext } from '../../lib/crypto/wrap/kms/context.ts';
import { kmsWrapper } from '../../lib/crypto/wrap/kms/index.ts';
import { vaultError } from '../../lib/crypto/wrap/kms/vault-http.ts';
import { HindsightError } from '../../lib/errors.ts';
import { useTempDir } from '../support/temp-dir.ts';

const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLETOKEN';
const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const aws: KmsConfig = {
  provider: 'aws',
  keyId: arn,
  region: 'eu-west-1',
  accessKeyId: 'AKIAEXAMPLE',
  secretAccessKey: SECRET_ACCESS_KEY,
  sessionToken: SESSION_TOKEN,
};
const vault: KmsConfig = {
  provider: 'vault',
  address: 'https://vault.example.com:8200',
  mount: 'transit',
  keyName: 'hindsight',
  contextAs: 'associated_data',
  token: 'hvs.EXAMPLETOKENVALUE',
};

const issues = (value: unknown): string[] => {
  const parsed = kmsConfigSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('KMS configuration', () => {
  it('accepts each provider and refuses what would not reach a key', () => {
    assert.deepEqual(issues(aws), []);
    assert.deepEqual(issues(vault), []);
    assert.deepEqual(issues({ provider: 'aws', keyId: 'alias/backups', region: 'us-east-1' }), []);
    assert.deepEqual(issues({ ...aws, keyId: 'my key' }), [
      'keyId: keyId must be a KMS key id, key ARN, alias/<name> or alias ARN',
    ]);
    assert.deepEqual(issues({ provider: 'aws', keyId: arn, region: 'eu-west-1', accessKeyId: 'AKIA' }), [
      'secretAccessKey: accessKeyId and secretAccessKey go together: set both, or neither to use the default credential chain',
    ]);
    assert.deepEqual(issues({ ...vault, token: undefined }), ['token: token is required']);
    assert.deepEqual(issues({ ...vault, keyName: '../sys' }), [
      'keyName: keyName must be a transit key name (letters, digits, ".", "-", "_")',
    ]);
    assert.deepEqual(issues({ provider: 'gcp', keyName: 'x' }).length, 1);
  });

  it('splits the secrets off, masks them, and seals them so that the saved settings hold none', async () => {
    assert.deepEqual(Object.keys(splitKmsSecrets(aws).secrets).sort(), ['secretAccessKey', 'sessionToken']);
    assert.deepEqual(Object.keys(splitKmsSecrets(vault).secrets), ['token']);
    assert.equal(maskKmsSecrets(vault).token, '[secret]');
    assert.equal(maskKmsSecrets(aws).accessKeyId, 'AKIAEXAMPLE');
  });

  describe('sealed in the catalog', () => {
    const dir = useTempDir('hindsight-kms-config-');
    it('opens again to the same configuration, and only under its own context', async () => {
      const currentFile = path.join(dir(), 'secret.key');
      await writeNewKeyFile(currentFile, generateSecretKey());
      const keys = openKeyring({ currentFile, keysDir: path.join(dir(), 'keys'), previousFiles: [] });
      const saved = sealKmsConfig(keys, aws, 'kms:offsite');
      const stored = JSON.stringify(saved);
      assert.equal(stored.includes(SECRET_ACCESS_KEY), false);
      assert.equal(stored.includes(SESSION_TOKEN), false);
      assert.deepEqual(openKmsConfig(keys, { ...saved, context: 'kms:offsite' }, 'offsite'), aws);
      assert.throws(
        () => openKmsConfig(keys, { ...saved, context: 'kms:other' }, 'other'),
        /sealed secret for kms:other failed authentication/,
      );
    });
  });

  it('refuses an invalid configuration at the factory, naming fields and never values', () => {
    assert.throws(
      () => kmsWrapper({ ...vault, address: `not a url ${String((vault as { token: string }).token)}` } as KmsConfig),
      (error: unknown) =>
        error instanceof HindsightError &&
        error.kind === 'bad_input' &&
        error.message ===
          'the KMS configuration is invalid: address: address must be an http(s) URL, e.g. https://vault.example.com:8200',
    );
  });
});

describe('KMS refusals in the project words', () => {
  const ctx = { keyRef: arn, endpoint: 'kms.eu-west-1.amazonaws.com', secrets: ['sekrit-value-123'] };
  // The shapes the AWS SDK throws: a service exception's name, message and HTTP status.
  const sdk = (name: string, message: string, status = 400) => ({
    name,
    message,
    $metadata: { httpStatusCode: status },
  });

  it('names the key and the fix for each state and refusal', () => {
    assert.equal(
      translateAwsKmsError(sdk('DisabledException', `${arn} is disabled.`), 'unwrap', ctx).message,
      `KMS key ${arn} is disabled: enable it (aws kms enable-key --key-id ${arn}), then run the restore again`,
    );
    const pending = translateAwsKmsError(sdk('KMSInvalidStateException', `${arn} is pending deletion.`), 'unwrap', ctx);
    assert.equal(pending.kind, 'access_denied');
    assert.match(pending.message, /cancel it \(aws kms cancel-key-deletion --key-id .+\) and enable the key/);
    const denied = translateAwsKmsError(sdk('AccessDeniedException', 'not authorized sekrit-value-123'), 'wrap', ctx);
    assert.equal(denied.kind, 'access_denied');
    assert.equal(denied.message.includes('sekrit-value-123'), false);
    assert.match(denied.message, /give these credentials kms:Encrypt and kms:Decrypt on the key/);
    assert.equal(translateAwsKmsError(sdk('ThrottlingException', 'Rate exceeded'), 'wrap', ctx).kind, 'busy');
    assert.equal(translateAwsKmsError(sdk('InvalidCiphertextException', ''), 'unwrap', ctx).kind, 'integrity');
    assert.equal(translateAwsKmsError(sdk('KMSInternalException', 'oops', 500), 'unwrap', ctx).kind, 'unreachable');
    assert.equal(keyStateError('wrap', arn, 'Enabled', undefined), undefined);
    assert.match(
      keyStateError('unwrap', arn, 'PendingDeletion', new Date('2026-12-14T00:00:00Z'))!.message,
      /is scheduled for deletion on 2026-12-14T00:00:00.000Z: /,
    );
  });

  it("translates Vault's answers", () => {
    const config = vault as Extract<KmsConfig, { provider: 'vault' }>;
    assert.equal(vaultError('unwrap', config, 403, ['permission denied']).kind, 'access_denied');
    assert.equal(vaultError('unwrap', config, 400, ['cipher: message authentication failed']).kind, 'integrity');
    assert.equal(vaultError('unwrap', config, 400, ['encryption key not found']).kind, 'not_found');
    assert.equal(vaultError('wrap', config, 503, ['Vault is sealed']).kind, 'unreachable');
    assert.match(
      vaultError('wrap', config, 403, ['permission denied']).message,
      /^Vault refused access to Vault transit key hindsight \(mount transit at https:\/\/vault.example.com:8200\)/,
    );
  });
});

describe('the canonical context', () => {
  it('is the same bytes whatever order the fields were built in, and differs for another object', () => {
    const a = canonicalContext({ database: 'shop', object: 'base/1' });
    assert.deepEqual(canonicalContext({ object: 'base/1', database: 'shop' }), a);
    assert.notDeepEqual(canonicalContext({ database: 'shop', object: 'base/2' }), a);
    // A separator inside a value cannot make two contexts collide.
    assert.notDeepEqual(canonicalContext({ a: 'x","b":"y' }), canonicalContext({ a: 'x', b: 'y' }));
  });
});
