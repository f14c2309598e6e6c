/** What the commands of cli/commands/restore.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { counted } from '../../lib/counted.ts';
import { restoreWithIdentity, type IdentityRestoreOutcome } from '../identity-restore.ts';
import { printJob } from '../job-output.ts';
import { printJson, UsageError } from '../output.ts';
import { runPitrCommand } from '../pitr.ts';
import { pitrInputFromFlags, printPitrRestore, wantsPitrRestore } from '../pitr-restore.ts';
import { sessionAs } from '../session.ts';
import { walFetchCommand } from '../wal-fetch.ts';
import type { Invocation, Handler } from '../commands/types.ts';
import type { RestoreOutcome } from '../../temporal/contracts/restore.ts';

export async function restore({ args: [database], flags }: Invocation): Promise<void> {
  const withSession = sessionAs(flags.as);
  if (wantsPitrRestore(flags)) {
    if (flags.identity !== undefined)
      throw new UsageError(
        'restore: --identity applies to a logical restore; a point-in-time restore decrypts where it runs: give --agent <name> of an agent whose HINDSIGHT_IDENTITY_FILES lists the identity',
      );
    if (flags.backup !== undefined || flags['to-database'] !== undefined)
      throw new UsageError(
        'restore: --backup and --to-database apply to a logical restore, not to a point-in-time one (it starts from the base backup before the target)',
      );
    const input = pitrInputFromFlags(database!, flags);
    await withSession(async ({ services, actor }) =>
      printPitrRestore(
        await services.restores.start(actor, { database: database!, pointInTime: input.target, to: input.to }),
        { wait: flags.wait, json: flags.json },
      ),
    );
    return;
  }
  if (Boolean(flags.to) === Boolean(flags['to-database']))
    throw new UsageError(
      'restore needs exactly one of --to <postgres-url> or --to-database <name> (or a point-in-time target: --time, --lsn, --xid, --name, --latest, --immediate)',
    );
  if (flags.agent !== undefined || flags['then-stop'])
    throw new UsageError('restore: --agent and --then-stop apply to a point-in-time restore into a directory only');
  if (flags['with-privileged-roles'] && !flags['with-owners'])
    throw new UsageError('restore: --with-privileged-roles applies only with --with-owners');
  const to = flags.to ? { url: flags.to } : { database: flags['to-database']! };
  const owners = flags['with-owners']
    ? { withOwners: true, privilegedRoles: Boolean(flags['with-privileged-roles']) }
    : {};
  if (flags.identity !== undefined) {
    const outcome = await withSession((session) =>
      restoreWithIdentity(session, {
        database: database!,
        backupId: flags.backup,
        to,
        identityFile: flags.identity!,
        ...owners,
      }),
    );
    printIdentityRestore(outcome, flags.json);
    return;
  }
  await withSession(async ({ services, actor }) => {
    await printJob(
      await services.restores.start(actor, { database: database!, backupId: flags.backup, to, ...owners }),
      flags,
      (o) =>
        `restored backup ${o.backupId} into ${o.target}: ${counted(o.tablesChecked, 'table')}, ${counted(o.rowsChecked, 'row')}, every row count matches` +
        describeOwnership(o.ownership),
    );
  });
}

function printIdentityRestore(o: IdentityRestoreOutcome, json: boolean | undefined): void {
  if (json) return printJson(o);
  process.stdout.write(
    `restored backup ${o.backupId} from storage ${o.storageName} into ${o.target} with the identity file: ${counted(o.tablesChecked, 'table')}, ${counted(o.rowsChecked, 'row')}, every row count matches${describeOwnership(o.ownership)}\n`,
  );
}

/** The owners part of the outcome: which roles were created (without passwords), found or skipped. */
function describeOwnership(report: RestoreOutcome['ownership']): string {
  if (!report || report.mode === 'without-owners') return '\nowners and grants: not restored (--no-owner)';
  const list = (names: string[]) => (names.length > 0 ? names.join(', ') : 'none');
  const lines = [
    '\nowners and grants: restored',
    `roles created: ${list(report.created)}${report.created.length > 0 ? ' (no passwords: give LOGIN roles one before they log in)' : ''}`,
    `roles that existed, left as they were: ${list(report.existed)}`,
    ...report.skipped.map((s) => `skipped ${s.what}: ${s.reason}`),
  ];
  return lines.join('\n');
}

export const takeBaseBackup: Handler = ({ positionals, flags }) =>
  runPitrCommand('base-backup', positionals.slice(1), flags, sessionAs(flags.as));

export const walStatus: Handler = ({ positionals, flags }) =>
  runPitrCommand('wal-status', positionals.slice(1), flags, sessionAs(flags.as));

export const walFetch: Handler = async ({ args: [file, destination], flags }) => {
  process.exitCode = await walFetchCommand(file, destination, { socket: flags.socket, database: flags.database });
};
