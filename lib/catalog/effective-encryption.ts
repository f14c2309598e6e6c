/**
 * Which encryption a database's new objects get: its own setting (a recipient, a KMS key, or the
 * secret key chosen over its workspace's default), else its workspace's default, else the
 * installation's secret key. Objects name what encrypted them in their headers, so this decides
 * only how new objects are written, never how stored ones are read.
 */

/** Where a database's encryption comes from. */
export type EncryptionSource = 'database' | 'workspace' | 'installation';

export interface EffectiveEncryption {
  source: EncryptionSource;
  /** Public-key mode: the X25519 recipient new objects are encrypted for. */
  recipient: string | null;
  /** KMS mode: the named KMS key new objects' data keys are wrapped by. */
  kms: string | null;
}

export interface OwnEncryption {
  recipient: string | null;
  kms: string | null;
  /** The installation's secret key, chosen over the workspace's default. */
  secretKey: boolean;
}

export interface WorkspaceEncryption {
  recipient: string | null;
  kms: string | null;
}

export function effectiveEncryption(own: OwnEncryption, workspace: WorkspaceEncryption): EffectiveEncryption {
  if (own.recipient || own.kms || own.secretKey) return { source: 'database', recipient: own.recipient, kms: own.kms };
  if (workspace.recipient || workspace.kms)
    return { source: 'workspace', recipient: workspace.recipient, kms: workspace.kms };
  return { source: 'installation', recipient: null, kms: null };
}
