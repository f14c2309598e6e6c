import { readFile } from 'node:fs/promises';
import { backupRoleOffer, type BackupRoleResult } from '../services/hooks/backup-role.ts';
import type { HookTarget } from '../services/hooks/work.ts';
import type { ReadOnlyReport } from '../lib/pg/backup-role.ts';
import { printJson, printTable, UsageError } from './output.ts';
import { workspaceResolver, type WithSession } from './session.ts';

export interface HookCommandFlags {
  workspace?: string | undefined;
  file?: string | undefined;
  script?: string | undefined;
  timeout?: string | undefined;
  role?: string | undefined;
  pitr?: boolean | undefined;
  'admin-url'?: string | undefined;
}

type WithOps = WithSession;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  return value;
}

const indent = (text: string) =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

type Scope = { database: string } | { workspace: string };

interface HookInvocation {
  rest: string[];
  flags: HookCommandFlags;
  json: boolean;
  withOps: WithOps;
}

/** The hook's scope: --workspace, else the database named by the first argument (then consumed). */
function hookScope({ flags, rest }: HookInvocation): { target: Scope; rest: string[] } {
  return flags.workspace
    ? { target: { workspace: flags.workspace }, rest }
    : { target: { database: need(rest[0], 'database name (or --workspace <name>)') }, rest: rest.slice(1) };
}

async function resolveScope(scope: Scope, workspaceId: (name: string) => Promise<number>): Promise<HookTarget> {
  return 'workspace' in scope ? { workspaceId: await workspaceId(scope.workspace) } : scope;
}

async function hookSet(call: HookInvocation): Promise<void> {
  const { flags, json, withOps } = call;
  const { target: where, rest: more } = hookScope(call);
  const kind = need(more[0], 'hook kind (pre_backup, post_backup or post_restore)');
  if (Boolean(flags.file) === Boolean(flags.script))
    throw new UsageError('hook set needs exactly one of --file <script> or --script <text>');
  const script = flags.file ? await readFile(flags.file, 'utf8') : flags.script!;
  const timeoutSeconds = flags.timeout === undefined ? undefined : Number(flags.timeout);
  if (timeoutSeconds !== undefined && !Number.isFinite(timeoutSeconds))
    throw new UsageError(`--timeout must be a number of seconds, not "${flags.timeout}"`);
  const hook = await withOps(async (s) =>
    s.services.hooks.setHook(s.actor, {
      target: await resolveScope(where, workspaceResolver(s)),
      kind,
      script,
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    }),
  );
  if (json) printJson(hook);
  else
    process.stdout.write(
      `${hook.kind} hook of ${hook.databaseName ? `database "${hook.databaseName}"` : `workspace ${hook.workspaceId}`} saved (timeout ${hook.timeoutSeconds} s)\n`,
    );
}

async function hookRemove(call: HookInvocation): Promise<void> {
  const { json, withOps } = call;
  const { target: where, rest: more } = hookScope(call);
  const kind = need(more[0], 'hook kind');
  await withOps(async (s) =>
    s.services.hooks.removeHook(s.actor, { target: await resolveScope(where, workspaceResolver(s)), kind }),
  );
  if (json) printJson({ removed: kind });
  else process.stdout.write(`${kind} hook removed\n`);
}

async function hookShow({ rest, json, withOps }: HookInvocation): Promise<void> {
  const database = need(rest[0], 'database name');
  const view = await withOps((s) => s.services.hooks.showHooks(s.actor, database));
  if (json) return printJson({ database: view.database, hooks: view.hooks, variables: view.variables });
  if (view.hooks.length === 0)
    process.stdout.write(`no hooks run for "${database}": hindsight hook set ${database} pre_backup --file <script>\n`);
  for (const h of view.hooks) {
    process.stdout.write(
      `${h.kind} (${h.scope}${h.scope === 'workspace' ? ` ${h.workspaceId}` : ''}, timeout ${h.timeoutSeconds} s, updated ${h.updatedAt.toISOString()}${h.updatedBy ? ` by ${h.updatedBy}` : ''}):\n${indent(h.script)}\n`,
    );
  }
  process.stdout.write('\nvariables a script receives:\n');
  printTable(view.variables.map((v) => ({ name: v.name, kinds: v.kinds.join(','), description: v.description })));
}

async function hookRuns({ rest, json, withOps }: HookInvocation): Promise<void> {
  const database = need(rest[0], 'database name');
  const runs = await withOps((s) => s.services.hooks.hookRuns(s.actor, database));
  if (json) return printJson(runs);
  if (runs.length === 0) return void process.stdout.write(`no hook has run for "${database}" yet\n`);
  printTable(
    runs.map((r) => ({
      started: r.startedAt.toISOString(),
      kind: r.kind,
      scope: r.scope,
      status: r.status,
      exit: r.timedOut ? 'timeout' : (r.signal ?? String(r.exitCode ?? '-')),
      ms: String(r.durationMs),
      job: r.backupId ?? r.restoreId ?? '-',
      output: (r.outputTail.trim().split('\n').pop() ?? '').slice(0, 60),
    })),
  );
}

const hookSubcommands: Record<string, (call: HookInvocation) => Promise<void>> = {
  set: hookSet,
  remove: hookRemove,
  show: hookShow,
  runs: hookRuns,
};

/** `hindsight hook …`: args are what follows `hook`. */
export async function hookCommand(
  args: string[],
  flags: HookCommandFlags,
  json: boolean,
  withOps: WithOps,
): Promise<void> {
  const [sub, ...rest] = args;
  const handler = sub === undefined || !Object.hasOwn(hookSubcommands, sub) ? undefined : hookSubcommands[sub];
  if (!handler) throw new UsageError(`unknown command: hook ${sub ?? ''}`);
  return handler({ rest, flags, json, withOps });
}

export function formatRoleCheck(database: string, report: ReadOnlyReport): string {
  const lines = [
    report.readOnly
      ? `database "${database}": role "${report.role}" is read-only`
      : `database "${database}": role "${report.role}" is NOT read-only:`,
  ];
  for (const reason of report.reasons) lines.push(`  - ${reason}`);
  if (report.unreadableTables.length > 0)
    lines.push(
      `  ! cannot read ${report.unreadableTables.length} table(s), a backup would fail: ${report.unreadableTables.slice(0, 5).join(', ')}`,
    );
  if (!report.readOnly) lines.push(`  create a read-only role: hindsight db create-backup-role ${database}`);
  return `${lines.join('\n')}\n`;
}

/** `hindsight db role-check` and `db create-backup-role`: args are what follows the subcommand. */
export async function backupRoleCommand(
  sub: string,
  args: string[],
  flags: HookCommandFlags,
  json: boolean,
  withOps: WithOps,
): Promise<void> {
  const database = need(args[0], 'database name');
  if (sub === 'role-check') {
    const report = await withOps((s) => s.services.hooks.checkRole(s.actor, database, { pitr: flags.pitr ?? false }));
    if (json) printJson(report);
    else process.stdout.write(formatRoleCheck(database, report));
    if (!report.readOnly) process.exitCode = 1;
    return;
  }
  const result: BackupRoleResult = await withOps((s) =>
    s.services.hooks.createRole(s.actor, database, {
      ...(flags.role ? { roleName: flags.role } : {}),
      pitr: flags.pitr ?? false,
      ...(flags['admin-url'] ? { adminUrl: flags['admin-url'] } : {}),
    }),
  );
  if (json) return printJson(result);
  process.stdout.write(
    `role "${result.role}" created; database "${database}" now backs up as it (password sealed in the catalog)\n`,
  );
  for (const note of result.notes) process.stdout.write(`  note: ${note}\n`);
  process.stdout.write(formatRoleCheck(database, result.check));
}

/** After `db add`: one line offering a read-only role when the configured one can write. */
export async function printBackupRoleOffer(database: string, withOps: WithOps): Promise<void> {
  try {
    const report = await withOps((s) => s.services.hooks.checkRole(s.actor, database));
    const offer = backupRoleOffer(database, report);
    if (offer) process.stdout.write(`${offer}\n`);
  } catch {
    // The offer is advice; a database added with --no-check may not be reachable yet.
  }
}
