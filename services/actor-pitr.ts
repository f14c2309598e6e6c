/**
 * Point-in-time recovery as one actor may drive it: turning streaming on or off changes the
 * database (editor), a base backup is a backup, a point-in-time restore is a restore; each is
 * checked in services/authz.ts and audited like the logical ones.
 */
import type { Action, Actor, Authz } from './authz.ts';
import type { EnablePitrInput, PitrOperations } from './pitr.ts';
import type { Runtime } from './runtime.ts';

export function createActorPitr(deps: { runtime: Runtime; pitr: PitrOperations; authz: Authz }, actor: Actor) {
  const { pitr, authz } = deps;

  const databaseWorkspace = (name: string, action: Action): Promise<number> => authz.authorizeDatabase(actor, name, action);

  const target = (name: string) => ({ type: 'database', name });

  return {
    async enable(database: string, raw: EnablePitrInput = {}) {
      const workspaceId = await databaseWorkspace(database, 'database.update');
      return authz.audited(actor, { workspaceId, action: 'database.update', target: target(database), before: { pitr: false } },
        () => pitr.enable(database, raw),
        (r) => ({ pitr: true, archiver: r.archiverWorkflowId, settings: { ...raw, ...(raw.baseBackupUrl ? { baseBackupUrl: '(a standby; its URL is sealed)' } : {}) } }));
    },
    async disable(database: string) {
      const workspaceId = await databaseWorkspace(database, 'database.update');
      return authz.audited(actor, { workspaceId, action: 'database.update', target: target(database), before: { pitr: true } },
        () => pitr.disable(database), () => ({ pitr: false }));
    },
    async startBaseBackup(database: string) {
      const workspaceId = await databaseWorkspace(database, 'backup.start');
      return authz.audited(actor, { workspaceId, action: 'backup.start', target: target(database) },
        () => pitr.startBaseBackup(database, 'manual'), (r) => ({ baseBackupId: r.baseBackupId, workflowId: r.workflowId }));
    },
    async walStatus(database: string) {
      await databaseWorkspace(database, 'history.read');
      return pitr.walStatus(database);
    },
    /** A point-in-time restore, started by `start` once the actor may restore this database. */
    async restore<T>(database: string, to: unknown, start: () => Promise<T>): Promise<T> {
      const workspaceId = await databaseWorkspace(database, 'restore.start');
      return authz.audited(actor, { workspaceId, action: 'restore.start', target: target(database) }, start, () => ({ pointInTime: true, to }));
    },
  };
}

export type ActorPitr = ReturnType<typeof createActorPitr>;
