/**
 * A running point-in-time restore's hold on the base backups it reads
 * (lib/catalog/base-backups-in-use.ts): taken before extraction starts, renewed while the restore
 * runs, released when it ends, so that retention keeps the chain only as long as it is read.
 */
import type { Catalog } from '../catalog/catalog.ts';
import { BASE_BACKUP_LEASE_MS, BASE_BACKUP_RENEW_MS } from '../catalog/base-backups-in-use.ts';

export interface ChainHold {
  workflowId: string;
  database: string;
  baseBackupIds: string[];
}

/** Holds the chain; the returned function releases it (it never throws: the lease lapses anyway). */
export async function holdChainWhileRestoring(
  catalog: Pick<Catalog, 'holdBaseBackups' | 'releaseBaseBackups'>,
  hold: ChainHold,
  onRenewError: (error: unknown) => void,
): Promise<() => Promise<void>> {
  const renew = () => catalog.holdBaseBackups({ ...hold, expiresAt: new Date(Date.now() + BASE_BACKUP_LEASE_MS) });
  await renew();
  const timer = setInterval(() => renew().catch(onRenewError), BASE_BACKUP_RENEW_MS);
  return async () => {
    clearInterval(timer);
    await catalog.releaseBaseBackups(hold.workflowId).catch(onRenewError);
  };
}
