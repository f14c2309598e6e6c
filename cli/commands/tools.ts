/** `hindsight doctor`, `decrypt` and `key …`: the operator's own tools on the server. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/tools.ts');

export const toolCommands: Command[] = [
  {
    words: ['doctor'],
    args: [],
    flags: [],
    local: true,
    summary: 'checks the catalog, Temporal, workers, storages, tools and databases (exit 1 on a failure)',
    handler: lazy(load, 'doctor'),
  },
  {
    words: ['decrypt'],
    args: [{ name: 'file' }],
    local: true,
    summary: 'the pg_dump archive of an encrypted backup file, with the secret key alone; names the backup the file is',
    flags: [
      'key',
      {
        name: 'expect',
        description:
          'the object key (<db>/<backup-id>) the file must be; any other is refused before a byte is written',
      },
      { name: 'output', description: 'the file to write (default: stdout, never a terminal)' },
    ],
    handler: lazy(load, 'decrypt'),
  },
  {
    words: ['key', 'rotate'],
    args: [],
    flags: [],
    summary: 'new secret key; re-seals every catalog secret; earlier keys stay in the keys directory',
    handler: lazy(load, 'keyRotate'),
  },
  {
    words: ['key', 'list'],
    args: [],
    flags: [],
    summary: 'every key: current, file, catalog secrets sealed under it',
    handler: lazy(load, 'keyList'),
  },
];
