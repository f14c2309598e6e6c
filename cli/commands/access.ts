/** `hindsight user|member|workspace|audit`: accounts, their roles, and the audit log (cli/access.ts). */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/access.ts');

const email = { name: 'email' };

export const accessCommands: Command[] = [
  {
    words: ['user', 'create'],
    args: [email],
    summary: 'a console account, member of a workspace',
    flags: [
      { name: 'owner', description: 'owner of the workspace and of the installation (instead of --role)' },
      { name: 'role', description: 'admin, editor or viewer in the workspace (or owner)' },
      { name: 'workspace', description: 'the workspace (default: "default")' },
      { name: 'name', description: 'the display name' },
      'password-file',
    ],
    handler: lazy(load, 'access'),
  },
  {
    words: ['user', 'list'],
    args: [],
    flags: [],
    summary: 'accounts: status, installation owner, workspaces and roles',
    handler: lazy(load, 'access'),
  },
  {
    words: ['user', 'disable'],
    args: [email],
    flags: [],
    summary: 'disables the account and closes its sessions',
    handler: lazy(load, 'access'),
  },
  {
    words: ['user', 'enable'],
    args: [email],
    flags: [],
    summary: 'enables the account again',
    handler: lazy(load, 'access'),
  },
  {
    words: ['user', 'instance-owner'],
    args: [email, { name: 'off', optional: true }],
    flags: [],
    summary: 'grants (or with "off" takes) ownership of the installation',
    handler: lazy(load, 'access'),
  },
  {
    words: ['member', 'add'],
    args: [email, { name: 'workspace' }, { name: 'owner|admin|editor|viewer' }],
    flags: [],
    summary: 'gives the user a role in the workspace',
    handler: lazy(load, 'access'),
  },
  {
    words: ['member', 'remove'],
    args: [email, { name: 'workspace' }],
    flags: [],
    summary: 'takes the user out of the workspace',
    handler: lazy(load, 'access'),
  },
  {
    words: ['workspace', 'create'],
    args: [{ name: 'name' }],
    flags: [],
    summary: 'a new workspace',
    handler: lazy(load, 'access'),
  },
  {
    words: ['workspace', 'list'],
    args: [],
    flags: [],
    summary: 'workspaces: your role, members, databases, storages',
    handler: lazy(load, 'access'),
  },
  {
    words: ['audit'],
    args: [],
    summary: 'the audit log: who did what, when, to what, and the outcome',
    flags: [{ name: 'workspace', description: 'entries of this workspace' }, 'actor', 'action', 'since'],
    handler: lazy(load, 'access'),
  },
];
