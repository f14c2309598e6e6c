/**
 * The restore wizard's data: the actor's databases, a chosen database's restorable backups, and
 * its recoverable windows as lib/pitr/window.ts decides them (storage-checked, the head confirmed
 * by the server) — the same windows the restore's start and its workflow plan against.
 */
import { isInstanceLevel } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import { workflowLinkBase } from './backups.ts';
import type { ConsoleRestorableBackup, ConsoleSetupServices } from './setup-types.ts';
import type { ActorRef } from './types.ts';
import { windowsView } from './windows.ts';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

type RestorePart = Pick<ConsoleSetupServices, 'restoreWizard' | 'restoreStatus'>;

/** A restore's progress, linked to its run in the Temporal UI only for whoever may open it. */
async function restoreStatus(services: Services, actor: ActorRef, workflowId: string) {
  const [status, uiUrl] = await Promise.all([
    services.restoreStatus.status(actor, workflowId),
    workflowLinkBase(services, actor),
  ]);
  return uiUrl === null ? { ...status, workflowUrl: null } : status;
}

export function restoreServices(services: Services): RestorePart {
  const { catalog, config } = services.ctx.runtime;

  async function restorable(
    actor: Parameters<RestorePart['restoreWizard']>[0],
    database: string,
  ): Promise<ConsoleRestorableBackup[]> {
    const backups = (await services.backupReads.list(actor, database)).filter(
      (b) => b.status === 'complete' || b.status === 'partial',
    );
    const verifications = await catalog.verifications.newestFor(backups.map((b) => b.id));
    return backups.map((b) => {
      const v = verifications.get(b.id);
      const verification: ConsoleRestorableBackup['verification'] = !v
        ? 'none'
        : v.status === 'successful' || v.status === 'failed' || v.status === 'running' || v.status === 'pending'
          ? v.status
          : 'none';
      return {
        id: b.id,
        status: b.status as 'complete' | 'partial',
        startedAt: b.startedAt.toISOString(),
        finishedAt: iso(b.finishedAt),
        sizeBytes: b.sizeBytes,
        tables: b.rowCounts ? b.rowCounts.length : null,
        rows: b.rowCounts ? b.rowCounts.reduce((s, t) => s + t.rows, 0) : null,
        storages: b.copies.filter((c) => c.status === 'complete').map((c) => c.storageName),
        verification,
      };
    });
  }

  return {
    async restoreWizard(actor, database) {
      const databases = await services.databases.list(actor);
      const pitrFlags = await Promise.all(
        databases.map(async (d) => (await catalog.wal.config(d.name).catch(() => ({ enabled: false }))).enabled),
      );
      const list = databases.map((d, i) => ({
        name: d.name,
        host: d.host,
        port: d.port,
        dbname: d.dbname,
        pitr: pitrFlags[i] ?? false,
      }));
      const chosen = database ? list.find((d) => d.name === database) : undefined;
      const canRestorePrivilegedRoles = isInstanceLevel(actor);
      if (!chosen)
        return { databases: list, database: null, canRestorePrivilegedRoles, temporalUiUrl: config.temporalUiUrl };
      return {
        databases: list,
        canRestorePrivilegedRoles,
        database: {
          name: chosen.name,
          host: chosen.host,
          port: chosen.port,
          dbname: chosen.dbname,
          backups: await restorable(actor, chosen.name),
          pitr: chosen.pitr ? await windowsView(catalog, chosen.name) : null,
        },
        temporalUiUrl: config.temporalUiUrl,
      };
    },

    restoreStatus: (actor, workflowId) => restoreStatus(services, actor, workflowId),
  };
}
