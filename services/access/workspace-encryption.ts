/**
 * A workspace's default encryption (public-key mode for a recipient, or KMS mode with a named KMS
 * key) and what each of its databases is encrypted with as a result. Databases without their own
 * setting follow the default, the ones already registered included; every object still names its
 * recipient or KMS key in its header, so restores never need this setting (docs/backup-format.md).
 */
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import type { EncryptionSource } from '../../lib/catalog/effective-encryption.ts';
import type { Actor } from '../authz.ts';
import { workspaceEncryptionSchema, type WorkspaceEncryptionSetting } from '../databases/input.ts';
import { parseOrThrow } from './input.ts';
import { workspaceFor } from './lookups.ts';
import type { AccessDeps } from './types.ts';

/** One database's effective encryption, and who can decrypt what it writes. */
export interface DatabaseEncryptionView {
  database: string;
  mode: 'secret-key' | 'public-key' | 'kms';
  source: EncryptionSource;
  recipient: string | null;
  kmsKey: string | null;
  decryptableBy: string;
  /** Public-key mode: the agents that report holding the recipient's identity (they verify its backups). */
  agents: string[];
}

export interface WorkspaceEncryptionView {
  workspace: string;
  encryption: WorkspaceEncryptionSetting;
  databases: DatabaseEncryptionView[];
}

const settingOf = (w: { encryptionRecipient: string | null; encryptionKms: string | null }) =>
  w.encryptionKms
    ? ({ mode: 'kms', key: w.encryptionKms } as const)
    : w.encryptionRecipient
      ? ({ mode: 'public-key', recipient: w.encryptionRecipient } as const)
      : ({ mode: 'secret-key' } as const);

/** `agents`: those reporting the database's recipient's identity (worker --agent with HINDSIGHT_IDENTITY_FILES). */
export function databaseEncryptionView(d: DatabaseRecord, agents: string[] = []): DatabaseEncryptionView {
  const { source, recipient, kms } = d.encryption;
  const base = { database: d.name, source, recipient, kmsKey: kms, agents: [] as string[] };
  if (kms) return { ...base, mode: 'kms', decryptableBy: `whoever may use KMS key "${kms}"` };
  if (recipient) {
    const held = agents.length
      ? `; agents holding it: ${agents.join(', ')}`
      : '; no agent reports holding it, so its verifications are skipped';
    return {
      ...base,
      agents,
      mode: 'public-key',
      decryptableBy: `the holder of the identity of recipient ${recipient}${held}`,
    };
  }
  return { ...base, mode: 'secret-key', decryptableBy: "the installation's secret key" };
}

export function workspaceEncryptionOperations({ store, authz, runtime }: AccessDeps) {
  return {
    async workspaceEncryption(actor: Actor, workspaceName: string): Promise<WorkspaceEncryptionView> {
      const found = await workspaceFor(store, actor, workspaceName);
      const workspace = (await store.workspaceById(found.id))!;
      const databases = (await runtime.catalog.listDatabases()).filter((d) => d.workspaceId === found.id);
      return {
        workspace: workspace.name,
        encryption: settingOf(workspace),
        databases: await Promise.all(
          databases.map(async (d) =>
            databaseEncryptionView(
              d,
              d.encryption.recipient ? await runtime.catalog.agentRecipients.holding(d.encryption.recipient) : [],
            ),
          ),
        ),
      };
    },

    /** Sets the default; `secret-key` takes it away. Audited as workspace.encryption. */
    async setWorkspaceEncryption(actor: Actor, workspaceName: string, raw: unknown) {
      const setting = parseOrThrow(workspaceEncryptionSchema, raw, 'encryption');
      const found = await workspaceFor(store, actor, workspaceName);
      const target = { type: 'workspace', name: found.name };
      await authz.authorize(actor, found.id, 'workspace.manage', target);
      const before = settingOf((await store.workspaceById(found.id))!);
      if (setting.mode === 'kms') await runtime.catalog.kmsKeys.get(setting.key);
      const updated = await store.setWorkspaceEncryption(found.id, {
        recipient: setting.mode === 'public-key' ? setting.recipient : null,
        kms: setting.mode === 'kms' ? setting.key : null,
      });
      await authz.audit(actor, {
        workspaceId: found.id,
        action: 'workspace.encryption',
        target,
        outcome: 'ok',
        before,
        after: setting,
      });
      return { workspace: updated.name, encryption: setting };
    },
  };
}
