/**
 * A catalog backup on request. The catalog holds every workspace (and every account), so only who
 * holds the instance's privileges may start one: the instance owner, the local operator, the system.
 */
import { HindsightError } from '../../lib/errors.ts';
import { DEFAULT_WORKSPACE_ID } from '../../lib/catalog/access.ts';
import type { CatalogBackupOutcome } from '../../temporal/contracts/catalog-backup.ts';
import { startCatalogBackup } from '../../temporal/catalog-backup.ts';
import { isInstanceLevel, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export interface CatalogBackupStarted {
  workflowId: string;
  /** With `wait`: what the run did. */
  outcome?: CatalogBackupOutcome;
}

const target = { type: 'catalog', name: 'catalog' };

export class CatalogBackupService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  async backupNow(actor: Actor, options: { wait?: boolean } = {}): Promise<CatalogBackupStarted> {
    const audit = (outcome: 'ok' | 'denied', after?: unknown) =>
      this.ctx.guard.authz.audit(actor, {
        workspaceId: outcome === 'ok' ? DEFAULT_WORKSPACE_ID : null,
        action: 'catalog.backup',
        target,
        outcome,
        after,
      });
    if (!isInstanceLevel(actor)) {
      await audit('denied');
      throw new HindsightError(
        'forbidden',
        'a catalog backup holds every workspace: only the instance owner or the local operator may start one',
      );
    }
    const handle = await startCatalogBackup(this.ctx.temporal, this.ctx.runtime.config);
    await audit('ok', { workflowId: handle.workflowId });
    if (!options.wait) return { workflowId: handle.workflowId };
    return { workflowId: handle.workflowId, outcome: await handle.result() };
  }
}
