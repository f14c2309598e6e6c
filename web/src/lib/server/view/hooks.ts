import type { HookRecord, HookRunRecord } from '../../../../../lib/catalog/hooks.ts';
import { errorMessage } from '../../../../../lib/errors.ts';
import { isInstanceLevel } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import type { ActorRef } from './types.ts';

/** The hooks page of one database, as plain data (no secrets: scripts are not secret, passwords never reach them). */
export interface ConsoleHookView {
  database: string;
  hooks: Array<Pick<HookRecord, 'kind' | 'scope' | 'script' | 'timeoutSeconds' | 'updatedBy'> & { updatedAt: string }>;
  /** The catalog's run records without the ids of the hook, database and workflow; the start time as ISO text. */
  runs: Array<
    Omit<HookRunRecord, 'hookId' | 'databaseName' | 'workflowId' | 'startedAt' | 'finishedAt'> & { startedAt: string }
  >;
  variables: Array<{ name: string; description: string; kinds: string[] }>;
  kinds: Array<{ kind: string; description: string }>;
  /** Whether this user may set scripts: they run programs on the shared worker, so only the instance owner may (anyone with hook.edit may remove one). */
  canSetScripts: boolean;
  /** Whether the role backups connect as is read-only; an error when the database cannot be reached. */
  role: { role: string; readOnly: boolean; reasons: string[]; unreadableTables: string[] } | { error: string };
}

export interface ConsoleHookServices {
  view(actor: ActorRef, database: string): Promise<ConsoleHookView>;
  save(
    actor: ActorRef,
    input: { database: string; scope: 'database' | 'workspace'; kind: string; script: string; timeoutSeconds?: number },
  ): Promise<void>;
  remove(actor: ActorRef, input: { database: string; scope: 'database' | 'workspace'; kind: string }): Promise<void>;
  createBackupRole(
    actor: ActorRef,
    database: string,
    options: { roleName?: string; pitr?: boolean },
  ): Promise<{ role: string; readOnly: boolean; reasons: string[]; notes: string[] }>;
}

const toHook = (h: HookRecord): ConsoleHookView['hooks'][number] => ({
  kind: h.kind,
  scope: h.scope,
  script: h.script,
  timeoutSeconds: h.timeoutSeconds,
  updatedAt: h.updatedAt.toISOString(),
  updatedBy: h.updatedBy,
});

const toRun = (r: HookRunRecord): ConsoleHookView['runs'][number] => ({
  id: r.id,
  kind: r.kind,
  scope: r.scope,
  status: r.status,
  exitCode: r.exitCode,
  signal: r.signal,
  timedOut: r.timedOut,
  durationMs: r.durationMs,
  outputTail: r.outputTail,
  outputTruncated: r.outputTruncated,
  startedAt: r.startedAt.toISOString(),
  backupId: r.backupId,
  restoreId: r.restoreId,
});

/** The console's hooks and backup-role actions, each on behalf of the signed-in user (the guard decides). */
export function createConsoleHookServices(
  services: Services,
  workspaceOf: (database: string) => Promise<number>,
): ConsoleHookServices {
  const target = async (input: { database: string; scope: 'database' | 'workspace' }) =>
    input.scope === 'workspace' ? { workspaceId: await workspaceOf(input.database) } : { database: input.database };
  const { hooks } = services;
  return {
    async view(actor, database) {
      const view = await hooks.showHooks(actor, database);
      let role: ConsoleHookView['role'];
      try {
        const report = await hooks.checkRole(actor, database);
        role = {
          role: report.role,
          readOnly: report.readOnly,
          reasons: report.reasons,
          unreadableTables: report.unreadableTables,
        };
      } catch (error) {
        role = { error: errorMessage(error) };
      }
      return {
        database: view.database,
        hooks: view.hooks.map(toHook),
        runs: view.runs.map(toRun),
        variables: view.variables,
        kinds: view.kinds,
        canSetScripts: isInstanceLevel(actor),
        role,
      };
    },
    async save(actor, input) {
      await hooks.setHook(actor, {
        target: await target(input),
        kind: input.kind,
        script: input.script,
        ...(input.timeoutSeconds !== undefined ? { timeoutSeconds: input.timeoutSeconds } : {}),
      });
    },
    async remove(actor, input) {
      await hooks.removeHook(actor, { target: await target(input), kind: input.kind });
    },
    async createBackupRole(actor, database, options) {
      const result = await hooks.createRole(actor, database, {
        ...(options.roleName ? { roleName: options.roleName } : {}),
        pitr: options.pitr ?? false,
      });
      return { role: result.role, readOnly: result.check.readOnly, reasons: result.check.reasons, notes: result.notes };
    },
  };
}
