/** What the commands of cli/commands/db.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { createInterface } from 'node:readline/promises';
import type { AdoptionReport } from '../../services/databases/adopt.ts';
import { databaseEncryptionFlag } from '../encryption-flag.ts';
import { counted } from '../../lib/counted.ts';
import type { CliFlags } from '../flags.ts';
import { readPassword } from '../access.ts';
import { requireInputFile } from '../file-args.ts';
import { printJson, printList, UsageError } from '../output.ts';
import { backupRoleCommand, printBackupRoleOffer } from '../hooks.ts';
import { runDbOverdue } from '../notifiers.ts';
import { runPitrCommand } from '../pitr.ts';
import { drillChange } from './db-drill.ts';
import { nameList, sessionAs } from '../session.ts';
import type { Invocation, Handler } from '../commands/types.ts';

/**
 * The password in `--password-file`, read as `db update` and `db add` both read it: one trailing
 * newline dropped (editors and `echo` add one), a missing file or an empty password refused.
 */
async function passwordFromFile(file: string): Promise<string> {
  await requireInputFile(file, '--password-file', 'give the file that holds the password (one line)');
  const password = await readPassword(file);
  if (password === '') throw new UsageError(`--password-file ${file} is empty: write the password into it`);
  return password;
}

/**
 * The URL with the password of `--password-file` in it, percent-encoded as a URL's user info must
 * be. A URL that already carries a password is refused rather than one of the two silently winning.
 */
export async function urlWithPasswordFile(url: string, file: string | undefined): Promise<string> {
  if (file === undefined || !URL.canParse(url)) return url; // an unreadable URL is refused by the service, naming it
  const parsed = new URL(url);
  if (parsed.password !== '')
    throw new UsageError('--url has a password and --password-file gives another: give the password in one of them');
  parsed.password = encodeURIComponent(await passwordFromFile(file));
  return parsed.href;
}

export async function addDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const withSession = sessionAs(flags.as);
  const url = await urlWithPasswordFile(flags.url!, flags['password-file']);
  const record = await withSession(async ({ services, access, actor }) =>
    services.databases.add(actor, {
      workspaceId: (await access.workspaceFor(actor, flags.workspace ?? 'default')).id,
      name: name!,
      url,
      storages: nameList(flags.storage ?? 'local'),
      schedule: flags.schedule ?? null,
      timezone: flags.timezone ?? 'UTC',
      skipCheck: flags['no-check'],
      ...(flags.jobs === undefined ? {} : { parallelJobs: count(flags.jobs) }),
      ...(flags.encryption === undefined ? {} : { encryption: databaseEncryptionFlag(flags.encryption) }),
    }),
  );
  if (flags.json) printJson(record);
  else {
    process.stdout.write(
      `database "${record.name}" added (storage ${record.storageNames.join(', ')}${record.schedule ? `, schedule "${record.schedule}" ${record.timezone}` : ''}${record.parallelJobs > 1 ? `, ${record.parallelJobs} dump jobs` : ''})\n`,
    );
    process.stdout.write(adoptionLines(record.adopted));
  }
  if (!flags.json && !flags['no-check']) await printBackupRoleOffer(name!, withSession);
}

/** What `db add` found of the database's earlier backups, for people. */
function adoptionLines(report: AdoptionReport): string {
  const lines: string[] = [];
  if (report.count > 0)
    lines.push(`adopted ${counted(report.count, 'earlier backup')} found in storage ${report.storages.join(', ')}`);
  if (report.note && (report.count > 0 || report.skipped.length > 0)) lines.push(report.note);
  for (const s of report.skipped) lines.push(`not adopted: ${s.key} in storage ${s.storage}: ${s.reason}`);
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Keep or delete the backups of a database being removed: the flag given, else the answer on a
 * terminal (keep unless "delete" is typed), else keep, and the output says so.
 */
async function backupsChoice(name: string, flags: CliFlags): Promise<{ backups: 'keep' | 'delete'; note: string }> {
  if (flags['keep-backups'] && flags['delete-backups'])
    throw new UsageError('give --keep-backups or --delete-backups, not both');
  if (flags['keep-backups']) return { backups: 'keep', note: '' };
  if (flags['delete-backups']) return { backups: 'delete', note: '' };
  if (!process.stdin.isTTY || !process.stderr.isTTY || flags.json)
    return { backups: 'keep', note: ' (kept: neither --keep-backups nor --delete-backups was given)' };
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Database "${name}": keep its backups in storage (db add takes them back) or delete them from every storage? ` +
        'Type "delete" to delete them, Enter to keep them: ',
    );
    return { backups: answer.trim().toLowerCase() === 'delete' ? 'delete' : 'keep', note: '' };
  } finally {
    rl.close();
  }
}

export async function listDatabases({ flags }: Invocation): Promise<void> {
  const dbs = await sessionAs(flags.as, { temporal: false })(({ services, actor }) => services.databases.list(actor));
  printList(
    flags.json,
    dbs,
    (d) => ({
      name: d.name,
      connection: `${d.username}@${d.host}:${d.port}/${d.dbname}`,
      storage: d.storageNames.join(', '),
      schedule: d.schedule ? `${d.schedule} (${d.timezone})` : '-',
    }),
    'no databases: add one with hindsight db add <name> --url postgres://…',
  );
}

export async function scheduleDatabase({ args: [name, cron], flags }: Invocation): Promise<void> {
  const schedule = cron === 'off' ? null : cron!;
  const timezone = flags.timezone ?? 'UTC';
  await sessionAs(flags.as)(({ services, actor }) => services.databases.setSchedule(actor, name!, schedule, timezone));
  if (flags.json) printJson({ database: name, schedule, timezone });
  else
    process.stdout.write(
      schedule
        ? `database "${name}" is backed up at "${schedule}" (${timezone})\n`
        : `database "${name}" has no schedule now\n`,
    );
}

export async function setStorages({ args: [name, storages], flags }: Invocation): Promise<void> {
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.databases.setDestinations(actor, name!, nameList(storages!)),
  );
  if (flags.json) printJson(record);
  else process.stdout.write(`database "${name}" backs up to ${record.storageNames.join(', ')}\n`);
}

export async function removeDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const choice = await backupsChoice(name!, flags);
  const outcome = await sessionAs(flags.as)(({ services, actor }) =>
    services.databases.remove(actor, name!, { backups: choice.backups }),
  );
  if (flags.json) printJson(outcome);
  else process.stdout.write(`database "${name}" removed: ${outcome.message}${choice.note}\n`);
}

export const dbRoleCheck: Handler = ({ positionals, flags }) =>
  backupRoleCommand('role-check', positionals.slice(2), flags, flags.json, sessionAs(flags.as));

export const dbCreateBackupRole: Handler = ({ positionals, flags }) =>
  backupRoleCommand('create-backup-role', positionals.slice(2), flags, flags.json, sessionAs(flags.as));

export const dbOverdue: Handler = ({ positionals, flags }) =>
  runDbOverdue(positionals.slice(2), { json: flags.json, flags, withSession: sessionAs(flags.as) });

export const dbPitr: Handler = ({ positionals, flags }) =>
  runPitrCommand('db pitr', positionals.slice(2), flags, sessionAs(flags.as));

/** `--verify on|off` as a boolean; anything else is a usage error. */
export function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'off') return value === 'on';
  throw new UsageError(`--${flag} takes on or off, not "${value}"`);
}

const count = (value: string | undefined) => (value === undefined ? undefined : Number(value));

export async function updateDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const password = flags['password-file'] === undefined ? undefined : await passwordFromFile(flags['password-file']);
  const changes = {
    name: flags.name,
    url: flags.url,
    password,
    storages: flags.storage === undefined ? undefined : nameList(flags.storage),
    schedule: flags.schedule === undefined ? undefined : flags.schedule === 'off' ? null : flags.schedule,
    timezone: flags.timezone,
    verifyAfterBackup: onOff('verify', flags.verify),
    healthIntervalSeconds: count(flags['health-interval']),
    healthFailureThreshold: count(flags['health-failures']),
    parallelJobs: count(flags.jobs),
    encryption: flags.encryption === undefined ? undefined : databaseEncryptionFlag(flags.encryption),
    skipCheck: flags['no-check'],
  };
  const drill = drillChange(flags['restore-drill-target'], flags['restore-drill-cron']);
  // The drill flags alone change no other setting; without any flag the service names what could change.
  const others = drill === undefined || Object.entries(changes).some(([k, v]) => k !== 'skipCheck' && v !== undefined);
  const { record, drillSettings } = await sessionAs(flags.as)(async ({ services, actor }) => {
    const updated = others ? await services.databases.update(actor, name!, changes) : undefined;
    const current = updated ?? (await services.databases.get(actor, name!));
    if (drill === undefined) return { record: current, drillSettings: undefined };
    const settings =
      drill === 'off'
        ? await services.restoreDrills.remove(actor, current.name)
        : await services.restoreDrills.set(actor, current.name, drill);
    return { record: { ...current, restoreDrillCron: settings?.cron ?? null }, drillSettings: settings };
  });
  if (flags.json) printJson(record);
  else
    process.stdout.write(
      drillSettings !== undefined && !others
        ? drillSettings
          ? `database "${record.name}": restore drills into ${drillSettings.target} on "${drillSettings.cron}" (${record.timezone})\n`
          : `database "${record.name}": restore drills off\n`
        : `database "${record.name}" updated: ${record.username}@${record.host}:${record.port}/${record.dbname}, storage ${record.storageNames.join(', ')} (its backups are unchanged)\n`,
    );
}
