/**
 * Every `hindsight` command, declared once. cli/main.ts parses argv against this table,
 * `--help` and docs/cli.md are generated from it (cli/usage.ts, scripts/docs/cli.ts).
 */
import type { CommandTable } from '../command-table.ts';
import { flagCatalog, globalFlags, sessionFlags, type CliFlags } from '../flags.ts';
import { accessCommands } from './access.ts';
import { backupCommands } from './backups.ts';
import { catalogPruneCommands, catalogRebuildCommands } from './catalog.ts';
import { catalogBackupCommands } from './catalog-backup.ts';
import { dbCommands } from './db.ts';
import { hookCommands } from './hooks.ts';
import { notifierCommands } from './notifiers.ts';
import { restoreCommands } from './restore.ts';
import { serverCommands } from './servers.ts';
import { storageCommands } from './storage.ts';
import { toolCommands } from './tools.ts';
import { verifyCommands } from './verify.ts';

export const hindsightCommands: CommandTable<CliFlags> = {
  program: 'hindsight',
  flags: flagCatalog,
  globals: globalFlags,
  session: sessionFlags,
  commands: [
    ...dbCommands,
    ...storageCommands,
    ...backupCommands,
    ...verifyCommands,
    ...restoreCommands,
    ...toolCommands,
    ...accessCommands,
    ...hookCommands,
    ...notifierCommands,
    ...serverCommands,
    ...catalogRebuildCommands,
    ...catalogBackupCommands,
    ...catalogPruneCommands,
  ],
};
