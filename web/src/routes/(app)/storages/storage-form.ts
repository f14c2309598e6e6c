import { checkbox, number, secret, select, text, textarea, type Setting } from '#lib/components/ui/setting.ts';

/** A stored setting as the form's flat fields show it: the S3 Object Lock and the Azure immutability are two inputs each. */
export function storedValue(settings: Record<string, unknown>, name: string): unknown {
  const lock = settings.objectLock as { mode?: string; days?: number } | undefined;
  if (name === 'objectLockMode') return lock?.mode ?? 'off';
  if (name === 'objectLockDays') return lock?.days;
  const immutability = settings.immutability as { mode?: string; days?: number } | undefined;
  if (name === 'immutabilityMode') return immutability?.mode ?? 'off';
  if (name === 'immutabilityDays') return immutability?.days;
  return settings[name];
}

/** What the form calls each storage type: the type select's options and the legend of its settings. */
export const TYPE_LABELS: Readonly<Record<string, string>> = {
  local: 'Local directory',
  s3: 'S3 / R2 / MinIO',
  sftp: 'SFTP',
  azure: 'Azure Blob',
};

/**
 * The settings of each remote type, named as +page.server.ts reads them back (`s3_bucket`, …).
 * Secrets are write-only: the page never echoes them after a failed attempt.
 */
export const REMOTE_SETTINGS: Readonly<Record<string, readonly Setting[]>> = {
  s3: [
    text('bucket', 'Bucket'),
    text('region', 'Region', 'us-east-1 (auto for R2)'),
    text('endpoint', 'Endpoint', 'https://<account>.r2.cloudflarestorage.com'),
    text('prefix', 'Prefix', 'hindsight/'),
    { ...text('accessKeyId', 'Access key id'), autocomplete: 'off' },
    secret('secretAccessKey', 'Secret access key'),
    checkbox('forcePathStyle', 'Path-style addressing (MinIO)'),
    // The bucket must have been created with Object Lock enabled; the connection test checks it.
    select('objectLockMode', 'Object Lock: objects cannot be deleted or overwritten for the days below', [
      'off',
      'governance',
      'compliance',
    ]),
    { ...number('objectLockDays', 'Object Lock days', '30'), min: 1, max: 36500 },
  ],
  sftp: [
    text('host', 'Host'),
    { name: 'port', label: 'Port', kind: 'number', min: 1, max: 65535, initial: '22' },
    { ...text('username', 'User name'), autocomplete: 'off' },
    text('path', 'Path', '/backups'),
    secret('password', 'Password'),
    text('hostKeySha256', 'Host key (SHA256 fingerprint)', 'SHA256:…'),
    textarea('privateKey', 'Private key (instead of a password; never shown again)', true),
    secret('passphrase', 'Key passphrase'),
  ],
  azure: [
    text('container', 'Container'),
    text('prefix', 'Prefix'),
    text('accountName', 'Account name'),
    secret('accountKey', 'Account key'),
    text('endpoint', 'Endpoint', 'https://<account>.blob.core.windows.net'),
    secret('connectionString', 'Or a connection string'),
    // The container needs version-level immutability support; the connection test checks it.
    select('immutabilityMode', 'Immutability: blobs cannot be deleted or overwritten for the days below', [
      'off',
      'unlocked',
      'locked',
    ]),
    { ...number('immutabilityDays', 'Immutability days', '30'), min: 1, max: 146000 },
  ],
};
