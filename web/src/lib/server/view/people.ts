/** Users, workspaces and the audit log as the console's people pages show them (services/access.ts decides). */
import { HindsightError } from '../../../../../lib/errors.ts';
import type { AccessService } from '../../../../../services/access.ts';
import type { ConsolePeople } from './types.ts';

export function peopleServices(access: AccessService): ConsolePeople {
  return {
    async listUsers(ref) {
      return (await access.listUsers(ref)).map((u) => ({
        email: u.email,
        displayName: u.displayName,
        disabled: u.disabled,
        createdAt: u.createdAt.toISOString(),
        memberships: u.memberships.map((m) => ({ workspace: m.workspace, role: m.role })),
      }));
    },
    async setUserDisabled(ref, email, disabled) {
      await access.setUserDisabled(ref, email, disabled);
    },
    setMember: (ref, email, workspace, role) => access.setMember(ref, email, workspace, role),
    removeMember: (ref, email, workspace) => access.removeMember(ref, email, workspace),
    async listWorkspaces(ref) {
      return (await access.listWorkspaces(ref)).map(({ id: _id, ...w }) => w);
    },
    changeOwnPassword: (ref, input, keepSession) => access.changeOwnPassword(ref, input, keepSession),
    async createWorkspace(ref, name) {
      await access.createWorkspace(ref, name);
    },
    workspaceEncryption: (ref, workspace) => access.workspaceEncryption(ref, workspace),
    async setWorkspaceEncryption(ref, workspace, setting) {
      await access.setWorkspaceEncryption(ref, workspace, setting);
    },
    async listAudit(ref, query) {
      const since = query.since ? new Date(query.since) : undefined;
      if (since && Number.isNaN(since.getTime()))
        throw new HindsightError(
          'bad_input',
          `since: "${query.since}" is not a date (use e.g. 2026-11-23 or 2026-11-23T10:00:00Z)`,
        );
      const entries = await access.listAudit(ref, {
        workspace: query.workspace || undefined,
        actor: query.actor || undefined,
        action: query.action || undefined,
        since,
        limit: 500,
      });
      return entries.map((e) => ({
        id: e.id,
        at: e.at.toISOString(),
        actor: e.actor,
        workspace: e.workspace,
        action: e.action,
        target: e.targetType ? `${e.targetType} ${e.targetName ?? ''}`.trim() : null,
        source: e.source,
        outcome: e.outcome,
        before: e.before,
        after: e.after,
        detail: e.detail,
      }));
    },
  };
}
