/** What `hindsight catalog rebuild` does when it runs: loaded only then, so that the table and `--help` stay light. */
import type { RebuildReport, Tally } from '../../lib/catalog/rebuild/report.ts';
import type { Invocation } from '../commands/types.ts';
import { printJson } from '../output.ts';
import { readConfigArgument, sessionAs } from '../session.ts';

const tally = (what: string, t: Tally) => `${what}: ${t.found} found, ${t.added} new`;

/** The report for people: counts, what needs the operator next, and every object skipped with why. */
export function describeRebuild(report: RebuildReport): string {
  const wal = report.walSegments;
  const lines = [
    `storage "${report.storage}" ${report.storageAdded ? 'registered' : 'already registered with these settings'}`,
    tally('databases', report.databases),
    tally('backups', report.backups),
    tally('copies', report.copies),
    tally('base backups', report.baseBackups),
    `${tally('WAL segments', wal)} (${wal.fromIndex} from the index, ${wal.byReading} by reading the segment)`,
    tally('timeline histories', report.histories),
  ];
  for (const db of report.databases.created)
    lines.push(
      `database "${db}" has no credentials: run hindsight db update ${db} --url postgres://<user>@<host>:<port>/<db> --password-file <file> before its next backup`,
    );
  if (report.databases.created.length > 0)
    lines.push('PITR is off for the databases created: switch it on again with hindsight db pitr <db> on');
  for (const u of report.unreadable) lines.push(`could not read ${u.key}: ${u.reason}`);
  lines.push(
    report.changed ? 'catalog rebuilt from storage' : 'nothing new: the catalog already holds everything read',
  );
  return `${lines.join('\n')}\n`;
}

export async function rebuildCatalog({ flags }: Invocation): Promise<void> {
  const storageConfig = await readConfigArgument(flags['storage-config']!, '--storage-config');
  const report = await sessionAs(flags.as, { temporal: false })(async ({ services, actor }) => {
    const { CatalogRebuildService } = await import('../../services/catalog/rebuild.ts');
    return new CatalogRebuildService(services.ctx).rebuild(actor, {
      storageConfig,
      storageName: flags['storage-name'],
      keyFile: flags.key,
    });
  });
  if (flags.json) printJson(report);
  else process.stdout.write(describeRebuild(report));
}
