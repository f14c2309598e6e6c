/** `hindsight hook …`: scripts that run around backups and restores (cli/hooks.ts). */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/hooks.ts');

const kind = { name: 'kind', description: 'pre_backup, post_backup or post_restore' };
const workspace = {
  name: 'workspace' as const,
  description: "the workspace's hook (every database in it) instead of one database's",
};

export const hookCommands: Command[] = [
  {
    words: ['hook', 'set'],
    args: [{ name: 'db', optional: true }, kind],
    summary: 'the script that runs for the database (or, with --workspace, every database of the workspace)',
    details: ['kind: pre_backup, post_backup or post_restore; exactly one of --file and --script'],
    flags: [workspace, 'file', 'script', 'timeout'],
    handler: lazy(load, 'hook'),
  },
  {
    words: ['hook', 'show'],
    args: [{ name: 'db' }],
    flags: [],
    summary: 'the scripts that run for the database and the variables they get',
    handler: lazy(load, 'hook'),
  },
  {
    words: ['hook', 'remove'],
    args: [{ name: 'db', optional: true }, kind],
    flags: [workspace],
    summary: "removes the database's (or, with --workspace, the workspace's) hook of that kind",
    handler: lazy(load, 'hook'),
  },
  {
    words: ['hook', 'runs'],
    args: [{ name: 'db' }],
    flags: [],
    summary: 'recent runs: exit code, duration, output',
    handler: lazy(load, 'hook'),
  },
];
