/**
 * The domain services bound to one actor, under the names the tests have always called them by:
 * a test writes `platform.ops.startBackup('shop')` and the guard sees the actor given here.
 */
import type { Actor } from '../../services/authz.ts';
import type { AddDatabaseInput } from '../../services/databases/input.ts';
import type { CreateBackupRoleInput } from '../../services/hooks/backup-role.ts';
import type { HookTarget, SetHookInput } from '../../services/hooks/work.ts';
import type { Services } from '../../services/index.ts';
import type { EnablePitrInput } from '../../services/pitr/input.ts';
import type { DownloadOptions } from '../../services/backups/read.ts';
import type { LogicalRestoreRequest } from '../../services/restores/start.ts';
import type { VerificationRequest } from '../../services/verifications/service.ts';

export function actorOps(s: Services, actor: Actor) {
  return {
    actor,
    addDatabase: (raw: AddDatabaseInput) => s.databases.add(actor, raw),
    removeDatabase: (name: string) => s.databases.remove(actor, name),
    getDatabase: (name: string) => s.databases.get(actor, name),
    listDatabases: () => s.databases.list(actor),
    setSchedule: (name: string, cron: string | null, timezone?: string) =>
      s.databases.setSchedule(actor, name, cron, timezone),
    setDestinations: (database: string, storages: string[]) => s.databases.setDestinations(actor, database, storages),
    saveStorage: (name: string, raw: unknown, options?: { skipCheck?: boolean; workspaceId?: number }) =>
      s.storages.save(actor, name, raw, options),
    testStorage: (name: string) => s.storages.test(actor, name),
    removeStorage: (name: string) => s.storages.remove(actor, name),
    listStorages: () => s.storages.list(actor),
    startBackup: (database: string, trigger?: Parameters<Services['backups']['start']>[2]) =>
      s.backups.start(actor, database, trigger),
    cancelBackup: (backupId: string, reason?: string) => s.backups.cancel(actor, backupId, reason),
    startReplicate: (backupId: string) => s.backups.replicate(actor, backupId),
    listBackups: (database?: string) => s.backupReads.list(actor, database),
    getBackup: (backupId: string) => s.backupReads.get(actor, backupId),
    openDownload: (backupId: string, options: DownloadOptions) => s.backupReads.download(actor, backupId, options),
    startRestore: (request: LogicalRestoreRequest) => s.restores.start(actor, request),
    requestVerification: (database: string, options?: VerificationRequest) =>
      s.verifications.request(actor, database, options),
    listVerifications: (database: string) => s.verifications.list(actor, database),
    getVerification: (id: string) => s.verifications.get(actor, id),
    setVerifySchedule: (database: string, cron: string | null) => s.verifications.setSchedule(actor, database, cron),
    setRetentionPolicy: (database: string, raw: unknown) => s.retention.setPolicy(actor, database, raw),
    retentionPlan: (database: string, policy?: unknown) => s.retention.plan(actor, database, policy),
    startRetention: (database: string, options?: { dryRun?: boolean }) => s.retention.start(actor, database, options),
    hooks: {
      setHook: (raw: SetHookInput) => s.hooks.setHook(actor, raw),
      removeHook: (raw: { target: HookTarget; kind: string }) => s.hooks.removeHook(actor, raw),
      showHooks: (database: string) => s.hooks.showHooks(actor, database),
      workspaceHooks: (workspaceId: number) => s.hooks.workspaceHooks(actor, workspaceId),
      hookRuns: (database: string, options?: { limit?: number; backupId?: string }) =>
        s.hooks.hookRuns(actor, database, options),
    },
    backupRole: {
      checkRole: (database: string, options?: { pitr?: boolean }) => s.hooks.checkRole(actor, database, options),
      createRole: (database: string, raw?: CreateBackupRoleInput) => s.hooks.createRole(actor, database, raw),
    },
  };
}

export type ActorOps = ReturnType<typeof actorOps>;

/** PITR as one actor drives it, under the names the tests call it by. */
export function pitrOps(s: Services, actor: Actor) {
  return {
    enable: (database: string, raw?: EnablePitrInput) => s.pitr.enable(actor, database, raw),
    disable: (database: string, options?: { waitMs?: number }) => s.pitr.disable(actor, database, options),
    startBaseBackup: (database: string) => s.pitr.startBaseBackup(actor, database),
    walStatus: (database: string) => s.pitr.walStatus(actor, database),
  };
}

export type PitrOps = ReturnType<typeof pitrOps>;
