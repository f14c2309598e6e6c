/** `hindsight restore`, and the PITR jobs beside it: `base-backup`, `wal-status`, `wal-fetch`. */
import { printJob } from '../job-output.ts';
import { UsageError } from '../output.ts';
import { runPitrCommand } from '../pitr.ts';
import { pitrInputFromFlags, printPitrRestore, wantsPitrRestore } from '../pitr-restore.ts';
import { sessionAs } from '../session.ts';
import { walFetchCommand } from '../wal-fetch.ts';
import type { Command, Invocation } from './types.ts';

async function restore({ args: [database], flags }: Invocation): Promise<void> {
  const withSession = sessionAs(flags.as);
  if (wantsPitrRestore(flags)) {
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
  if (flags.agent !== undefined)
    throw new UsageError('restore: --agent applies to a point-in-time restore into a directory only');
  const to = flags.to ? { url: flags.to } : { database: flags['to-database']! };
  await withSession(async ({ services, actor }) => {
    await printJob(
      await services.restores.start(actor, { database: database!, backupId: flags.backup, to }),
      flags,
      (o) =>
        `restored backup ${o.backupId} into ${o.target}: ${o.tablesChecked} tables, ${o.rowsChecked} rows, every row count matches`,
    );
  });
}

const db = { name: 'db' };

export const restoreCommands: Command[] = [
  {
    words: ['restore'],
    args: [db],
    summary: 'a logical restore of a backup, or a point-in-time restore from the WAL archive',
    details: [
      'logical: [--backup <id>] (--to <postgres-url> | --to-database <name>) [--wait]',
      'point in time: (--time | --lsn | --xid | --name | --latest | --immediate) (--to <empty directory> [--agent <name>] | --to-sandbox) [--wait]',
    ],
    flags: [
      { name: 'backup', description: 'logical: this backup instead of the newest' },
      { name: 'to', description: 'logical: the postgres:// URL to restore into; point in time: an empty directory' },
      { name: 'to-database', description: 'logical: a registered database to restore into' },
      'time',
      'lsn',
      'xid',
      { name: 'name', description: 'point-in-time target: a restore point' },
      'latest',
      'immediate',
      'to-sandbox',
      { name: 'agent', description: 'point in time: the agent that restores into the directory on its host' },
      { name: 'wait', description: 'wait for the restore and print its outcome' },
    ],
    handler: restore,
  },
  {
    words: ['base-backup'],
    args: [db],
    flags: [{ name: 'wait', description: 'wait for it and print its WAL range and size' }],
    summary: 'a physical base backup now (PITR); prints its id',
    handler: ({ positionals, flags }) =>
      runPitrCommand('base-backup', positionals.slice(1), flags, sessionAs(flags.as)),
  },
  {
    words: ['wal-status'],
    args: [db],
    flags: [],
    summary: 'newest WAL in storage and its age, slot retention, archiver, last base backup',
    handler: ({ positionals, flags }) => runPitrCommand('wal-status', positionals.slice(1), flags, sessionAs(flags.as)),
  },
  {
    // Both arguments are optional to the parser: wal-fetch answers a missing one itself, with an
    // exit code above 125 so that recovery aborts rather than take it for the archive's end.
    words: ['wal-fetch'],
    args: [
      { name: 'wal file', optional: true },
      { name: 'path', optional: true },
    ],
    local: true,
    summary: "PostgreSQL's restore_command: exit 0 fetched, 1 not archived, 250 any other failure",
    flags: ['socket', 'database'],
    handler: async ({ args: [file, destination], flags }) => {
      process.exitCode = await walFetchCommand(file, destination, { socket: flags.socket, database: flags.database });
    },
  },
];
