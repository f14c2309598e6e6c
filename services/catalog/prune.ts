/**
 * `hindsight catalog prune`: what the daily catalog maintenance removes (lib/catalog/prune.ts),
 * shown with `--dry-run` or removed now. The retention periods are the installation's
 * configuration; it concerns every workspace, so only the instance's owner or the local operator
 * may run it, and a run that removes rows is written to the audit log.
 */
import type { PruneCount } from '../../lib/catalog/prune.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { isInstanceLevel, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export const PRUNE_AUDIT_ACTION = 'catalog.prune';
const target = { type: 'catalog', name: 'catalog' };

export interface PruneReport {
  dryRun: boolean;
  rules: PruneCount[];
}

export class CatalogPruneService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  async prune(actor: Actor, options: { dryRun: boolean }): Promise<PruneReport> {
    const { authz } = this.ctx.guard;
    const { catalog, config } = this.ctx.runtime;
    const { retention } = config.catalogMaintenance;
    if (!isInstanceLevel(actor)) {
      await authz.audit(actor, { workspaceId: null, action: PRUNE_AUDIT_ACTION, target, outcome: 'denied' });
      throw new HindsightError(
        'forbidden',
        'pruning the catalog is for the installation owner or the local operator (run it on the server without --as)',
      );
    }
    if (options.dryRun) return { dryRun: true, rules: await catalog.maintenance.planCatalogPrune(retention) };
    try {
      const rules = await catalog.maintenance.pruneCatalog(retention);
      const removed = Object.fromEntries(rules.map((r) => [r.rule, r.rows]));
      await authz.audit(actor, {
        workspaceId: null,
        action: PRUNE_AUDIT_ACTION,
        target,
        outcome: 'ok',
        after: removed,
      });
      return { dryRun: false, rules };
    } catch (error) {
      const detail = errorMessage(error);
      await authz.audit(actor, { workspaceId: null, action: PRUNE_AUDIT_ACTION, target, outcome: 'failed', detail });
      throw error;
    }
  }
}
