/** What the commands of cli/commands/servers.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import type { ServerRecord } from '../../lib/catalog/servers.ts';
import type { ServerPitrStatus } from '../../services/servers/pitr.ts';
import type { ServerBackupOutcome } from '../../temporal/contracts/servers.ts';
import type { CliFlags } from '../flags.ts';
import { printJson, printList, printTable, UsageError } from '../output.ts';
import { nameList, readConfigArgument, sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';
import { pitrSettings } from '../pitr.ts';
import { pitrInputFromFlags, printPitrRestore } from '../pitr-restore.ts';
import { onOff, urlWithPasswordFile } from './db.ts';
import { drillLines } from './server-drills.ts';
export { drillServer } from './server-drills.ts';

/** A repeatable flag's values (the parser gives an array); "none" alone clears the list. */
function patterns(value: unknown): string[] | undefined {
  const given = Array.isArray(value) ? (value as string[]) : [];
  if (given.length === 0) return undefined;
  return given.length === 1 && given[0] === 'none' ? [] : given.flatMap((v) => v.split(',')).filter((v) => v !== '');
}

async function retentionFlag(value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  return value === 'off' ? null : readConfigArgument(value, '--retention');
}

/** The options `add` and `update` share, as the service takes them; a flag not given is left out. */
async function runOptions(flags: CliFlags) {
  return {
    storages: flags.storage === undefined ? undefined : nameList(flags.storage),
    timezone: flags.timezone,
    excludes: patterns(flags.exclude),
    includePostgres: flags['include-postgres'] ? true : undefined,
    retention: await retentionFlag(flags.retention),
    verifyAfterBackup: onOff('verify', flags.verify),
  };
}

const address = (s: ServerRecord) => `${s.username}@${s.host}:${s.port}/${s.dbname}`;

export async function addServer({ args: [name], flags }: Invocation): Promise<void> {
  const url = await urlWithPasswordFile(flags.url!, flags['password-file']);
  const options = await runOptions(flags);
  const record = await sessionAs(flags.as)(async ({ services, access, actor }) =>
    services.servers.add(actor, {
      ...options,
      workspaceId: (await access.workspaceFor(actor, flags.workspace ?? 'default')).id,
      name: name!,
      url,
      allDatabases: flags['all-databases'],
      schedule: flags.schedule ?? null,
    }),
  );
  if (flags.json) return printJson(record);
  process.stdout.write(
    `server "${record.name}" added: PostgreSQL ${record.serverVersion}, system identifier ${record.systemIdentifier}` +
      `${record.allDatabases ? ', every database backed up' : ''}${record.schedule ? `, schedule "${record.schedule}" ${record.timezone}` : ''}\n`,
  );
}

export async function listServers({ flags }: Invocation): Promise<void> {
  const servers = await sessionAs(flags.as, { temporal: false })(({ services, actor }) => services.servers.list(actor));
  printList(
    flags.json,
    servers,
    (s) => ({
      name: s.name,
      connection: address(s),
      'system id': s.systemIdentifier,
      databases: s.allDatabases ? 'all' : 'registered',
      schedule: s.schedule ? `${s.schedule} (${s.timezone})` : '-',
    }),
    'no servers: add one with hindsight server add <name> --url postgres://… --all-databases',
  );
}

export async function showServer({ args: [name], flags }: Invocation): Promise<void> {
  const view = await sessionAs(flags.as)(({ services, actor }) => services.servers.show(actor, name!));
  if (flags.json) return printJson(view);
  const { server: s, databases, nextRuns } = view;
  const lines = [
    `server ${s.name}: ${address(s)}, PostgreSQL ${s.serverVersion}, system identifier ${s.systemIdentifier}`,
    `databases: ${s.allDatabases ? `all${s.includePostgres ? '' : ' but postgres'}` : 'those registered'}${s.excludes.length ? `, excluding ${s.excludes.join(', ')}` : ''}; storage ${s.storageNames.join(', ')}`,
    `schedule: ${s.schedule ? `${s.schedule} (${s.timezone}); next ${nextRuns.map((d) => d.toISOString()).join(', ') || '-'}` : 'none'}`,
    `last run: ${s.lastRunAt ? `${s.lastRunAt.toISOString()} ${summary(s.lastRun)}` : 'never'}`,
    ...pitrLines(view.pitr),
    ...drillLines(view.drills),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  printTable(
    databases.map((d) => ({
      database: d.name,
      datname: d.datname,
      discovered: d.createdAt.toISOString(),
      dropped: d.droppedAt ? d.droppedAt.toISOString() : '-',
    })),
  );
}

/** The server's PITR: who keeps the archive, who shares it, and the window it can restore to. */
function pitrLines(p: ServerPitrStatus): string[] {
  if (!p.enabled)
    return [`pitr: off${p.archiveDatabase ? ` (the archive kept by ${p.archiveDatabase} stays in storage)` : ''}`];
  const on = `pitr: on, archive kept by ${p.archiveDatabase}${p.sharedBy.length ? `, shared by ${p.sharedBy.join(', ')}` : ''}`;
  if (p.error) return [`${on}; the window cannot be read: ${p.error}`];
  if (p.windows.length === 0) return [`${on}; nothing recoverable yet (no complete base backup with its WAL)`];
  return [`${on}; recoverable:`, ...p.windows.map((w) => `  window ${w.text}`), ...p.gaps.map((g) => `  gap ${g}`)];
}

/** One line of a recorded run: how many backups of each outcome, what it registered and dropped. */
function summary(run: unknown): string {
  const r = run as Partial<{ backups: Array<{ status: string }>; registered: string[]; dropped: string[] }> | null;
  if (!r) return '';
  const byStatus = new Map<string, number>();
  for (const b of r.backups ?? []) byStatus.set(b.status, (byStatus.get(b.status) ?? 0) + 1);
  const parts = [...byStatus].map(([status, n]) => `${n} ${status}`);
  if (r.registered?.length) parts.push(`discovered ${r.registered.join(', ')}`);
  if (r.dropped?.length) parts.push(`dropped ${r.dropped.join(', ')}`);
  return parts.length ? `(${parts.join('; ')})` : '';
}

export async function updateServer({ args: [name], flags }: Invocation): Promise<void> {
  if (flags['all-databases'] && flags['only-registered'])
    throw new UsageError('give --all-databases or --only-registered, not both');
  const options = await runOptions(flags);
  const allDatabases = flags['all-databases'] ? true : flags['only-registered'] ? false : undefined;
  const schedule = flags.schedule === undefined ? undefined : flags.schedule === 'off' ? null : flags.schedule;
  const drill = flags['drill-schedule'];
  const pitrDrillSchedule = drill === undefined ? undefined : drill === 'off' ? null : drill;
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.servers.update(actor, name!, { ...options, allDatabases, schedule, pitrDrillSchedule }),
  );
  if (flags.json) return printJson(record);
  process.stdout.write(`server "${record.name}" updated\n`);
}

export async function runServer({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const run = await services.servers.run(actor, name!);
    if (!flags.wait) {
      if (flags.json) printJson({ workflowId: run.workflowId });
      else process.stdout.write(`${run.workflowId}\n`);
      return;
    }
    const outcome = await run.result();
    if (flags.json) printJson(outcome);
    else printOutcome(outcome);
    if (outcome.backups.some((b) => b.status === 'failed')) process.exitCode = 1;
  });
}

function printOutcome(o: ServerBackupOutcome): void {
  for (const r of o.registered) process.stdout.write(`discovered ${r.datname}: registered as ${r.name}\n`);
  for (const name of o.dropped) process.stdout.write(`dropped: ${name} (its backups are kept)\n`);
  for (const c of o.collisions) process.stdout.write(`not registered: ${c.reason}\n`);
  printTable(
    o.backups.map((b) => ({ database: b.database, status: b.status, backup: b.backupId ?? '-', error: b.error ?? '' })),
  );
}

export async function removeServer({ args: [name], flags }: Invocation): Promise<void> {
  const outcome = await sessionAs(flags.as)(({ services, actor }) =>
    services.servers.remove(actor, name!, { keepDatabases: flags['keep-databases'] }),
  );
  if (flags.json) return printJson(outcome);
  const kept = outcome.keptDatabases.length ? `; kept databases ${outcome.keptDatabases.join(', ')}` : '';
  const removed = outcome.removedDatabases.length
    ? `; removed databases ${outcome.removedDatabases.join(', ')} (their backups stay in storage)`
    : '';
  process.stdout.write(`server "${name}" removed${removed}${kept}\n`);
}

/** `server pitr <server> on|off`: the server's one archive for the cluster. */
export async function serverPitr({ args: [name, mode], flags }: Invocation): Promise<void> {
  if (mode !== 'on' && mode !== 'off')
    throw new UsageError(`server pitr takes <server> on or <server> off, not "${mode ?? ''}"`);
  const withSession = sessionAs(flags.as);
  if (mode === 'off') {
    const r = await withSession(({ services, actor }) => services.servers.pitrOff(actor, name!));
    if (flags.json) return printJson(r);
    process.stdout.write(
      r.wasOn
        ? `PITR off for server "${name}": streaming stopped${r.slotDropped ? ', replication slot dropped' : ''}${r.left.length ? `; ${r.left.join(', ')} no longer share it` : ''}; archived WAL and base backups stay in storage (hindsight server restore ${name} --time … still reads them)\n`
        : `PITR was already off for server "${name}"\n`,
    );
    return;
  }
  const r = await withSession(({ services, actor }) => services.servers.pitrOn(actor, name!, pitrSettings(flags)));
  if (flags.json) return printJson(r);
  const carried = r.tookOver
    ? `took over the archive of "${r.archiveDatabase}"`
    : `archive kept by "${r.archiveDatabase}"`;
  process.stdout.write(
    `PITR on for server "${name}": ${carried}, WAL streams in ${r.archiverWorkflowId}` +
      `${r.joined.length ? `; shared by ${r.joined.join(', ')}` : ''}${r.baseBackup ? `; first base backup ${r.baseBackup.baseBackupId} started` : ''}\n`,
  );
}

/** `server restore <server> --time …`: the whole cluster, from the server's archive. */
export async function restoreServer({ args: [name], flags }: Invocation): Promise<void> {
  if (flags.to !== undefined && /^postgres(ql)?:\/\//.test(flags.to))
    throw new UsageError(
      `server restore recovers the whole cluster into a directory (--to <dir>) or a sandbox; to copy one database into another server: hindsight restore <db> --time … --to <postgres-url>`,
    );
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const database = await services.servers.archiveOf(actor, name!);
    const input = pitrInputFromFlags(database, flags);
    const started = await services.restores.start(actor, { database, pointInTime: input.target, to: input.to });
    await printPitrRestore(started, { wait: flags.wait, json: flags.json });
  });
}
