/** `hindsight hook …`: scripts that run around backups and restores (cli/hooks.ts). */
import { commandsFrom, dbArg, type CommandOptions } from './types.ts';

// Every hook command runs through one handler, which dispatches on the command's words.
const command = commandsFrom(() => import('../handlers/hooks.ts'));
const hook = (words: string, summary: string, options: CommandOptions) => command(words, summary, 'hook', options);

/** `hook set` and `hook remove` name a database, or with --workspace none. */
const dbOrWorkspace = {
  args: [
    { name: 'db', optional: true },
    { name: 'kind', description: 'pre_backup, post_backup or post_restore' },
  ],
  flags: [
    {
      name: 'workspace' as const,
      description: "the workspace's hook (every database in it) instead of one database's",
    },
  ],
};

export const hookCommands = [
  hook('hook set', 'the script that runs for the database (or, with --workspace, every database of the workspace)', {
    ...dbOrWorkspace,
    details: ['kind: pre_backup, post_backup or post_restore; exactly one of --file and --script'],
    flags: [...dbOrWorkspace.flags, 'file', 'script', 'timeout'],
  }),
  hook('hook show', 'the scripts that run for the database and the variables they get', { args: [dbArg] }),
  hook(
    'hook remove',
    "removes the database's (or, with --workspace, the workspace's) hook of that kind",
    dbOrWorkspace,
  ),
  hook('hook runs', 'recent runs: exit code, duration, output', { args: [dbArg] }),
];
