/** `--encryption` for databases and workspaces, as the services' settings (they check the values). */
import type { EncryptionSetting, WorkspaceEncryptionSetting } from '../services/databases/input.ts';
import { UsageError } from './output.ts';

const HELP =
  'public-key:<recipient> (or the hspub1… recipient alone) with the recipient hindsight key generate printed, or kms:<name> with a key hindsight key kms list shows';

function keyedSetting(value: string): WorkspaceEncryptionSetting | undefined {
  if (value === 'secret-key') return { mode: 'secret-key' };
  if (value.startsWith('hspub1')) return { mode: 'public-key', recipient: value };
  if (value.startsWith('public-key:')) return { mode: 'public-key', recipient: value.slice('public-key:'.length) };
  if (value.startsWith('kms:')) return { mode: 'kms', key: value.slice('kms:'.length) };
  return undefined;
}

/** A database's: `workspace` (its workspace's default), `secret-key`, a recipient or a KMS key. */
export function databaseEncryptionFlag(value: string): EncryptionSetting {
  if (value === 'workspace') return { mode: 'workspace' };
  const setting = keyedSetting(value);
  if (setting) return setting;
  throw new UsageError(`--encryption ${value}: give workspace (its workspace's default), secret-key, ${HELP}`);
}

/** A workspace's default: `secret-key` (none), a recipient or a KMS key. */
export function workspaceEncryptionFlag(value: string): WorkspaceEncryptionSetting {
  const setting = keyedSetting(value);
  if (setting) return setting;
  throw new UsageError(`--encryption ${value}: give secret-key (no default), ${HELP}`);
}
