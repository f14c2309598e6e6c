/** Reading and trimming the audit log. */
import { DEFAULT_WORKSPACE_ID, type AuditEntry } from '../../lib/catalog/access.ts';
import type { Actor } from '../authz.ts';
import { workspaceFor } from './lookups.ts';
import type { AccessDeps, AuditQuery } from './types.ts';

export function auditOperations({ store, authz, runtime }: AccessDeps) {
  return {
    /** Audit entries of the workspaces where the actor may read the log; login entries for instance admins. */
    async listAudit(actor: Actor, query: AuditQuery = {}): Promise<AuditEntry[]> {
      let workspaceId: number | undefined;
      if (query.workspace) {
        const workspace = await workspaceFor(store, actor, query.workspace);
        await authz.authorize(actor, workspace.id, 'audit.read', { type: 'workspace', name: workspace.name });
        workspaceId = workspace.id;
      }
      const allowed = await authz.workspacesAllowing(actor, 'audit.read');
      if (actor.kind === 'user' && allowed.length === 0) {
        await authz.authorize(actor, [...actor.memberships.keys()][0] ?? DEFAULT_WORKSPACE_ID, 'audit.read');
      }
      return store.listAudit({
        workspaceIds: actor.kind === 'user' ? allowed : undefined,
        includeGlobal: actor.kind !== 'user' || allowed.includes(DEFAULT_WORKSPACE_ID),
        workspaceId,
        actor: query.actor,
        action: query.action,
        since: query.since,
        limit: query.limit,
      });
    },

    async purgeAudit(retentionDays = runtime.config.auditRetentionDays): Promise<number> {
      await store.purgeExpiredSessions();
      return store.purgeAudit(retentionDays);
    },
  };
}
