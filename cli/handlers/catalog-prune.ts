/** What `hindsight catalog prune` does when it runs: loaded only then. */
import type { PruneReport } from '../../services/catalog/prune.ts';
import type { Invocation } from '../commands/types.ts';
import { printJson } from '../output.ts';
import { sessionAs } from '../session.ts';

/** One line per rule: how many rows, of what, older than when. */
export function describePrune(report: PruneReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed';
  const lines = report.rules.map(
    (r) => `${r.rule}: ${verb} ${r.rows} ${r.table} row(s) before ${r.before.slice(0, 19)}Z — ${r.describes}`,
  );
  const total = report.rules.reduce((sum, r) => sum + r.rows, 0);
  lines.push(`${report.dryRun ? 'dry run: nothing removed' : 'catalog pruned'} (${total} row(s) in all)`);
  return `${lines.join('\n')}\n`;
}

export async function pruneCatalog({ flags }: Invocation): Promise<void> {
  const report = await sessionAs(flags.as, { temporal: false })(async ({ services, actor }) => {
    const { CatalogPruneService } = await import('../../services/catalog/prune.ts');
    return new CatalogPruneService(services.ctx).prune(actor, { dryRun: flags['dry-run'] });
  });
  if (flags.json) printJson(report);
  else process.stdout.write(describePrune(report));
}
