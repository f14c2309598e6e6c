/** `hindsight user|member|workspace|audit`: accounts, their roles, and the audit log (cli/access.ts). */
import { runAccessCommand } from '../access.ts';
import { sessionAs } from '../session.ts';
import type { Command, Invocation } from './types.ts';

const access = ({ positionals, flags }: Invocation) =>
  sessionAs(flags.as)(({ access: service, actor }) => runAccessCommand(positionals, flags, service, actor, ''));

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
    handler: access,
  },
  {
    words: ['user', 'list'],
    args: [],
    flags: [],
    summary: 'accounts: status, installation owner, workspaces and roles',
    handler: access,
  },
  {
    words: ['user', 'disable'],
    args: [email],
    flags: [],
    summary: 'disables the account and closes its sessions',
    handler: access,
  },
  { words: ['user', 'enable'], args: [email], flags: [], summary: 'enables the account again', handler: access },
  {
    words: ['user', 'instance-owner'],
    args: [email, { name: 'off', optional: true }],
    flags: [],
    summary: 'grants (or with "off" takes) ownership of the installation',
    handler: access,
  },
  {
    words: ['member', 'add'],
    args: [email, { name: 'workspace' }, { name: 'owner|admin|editor|viewer' }],
    flags: [],
    summary: 'gives the user a role in the workspace',
    handler: access,
  },
  {
    words: ['member', 'remove'],
    args: [email, { name: 'workspace' }],
    flags: [],
    summary: 'takes the user out of the workspace',
    handler: access,
  },
  { words: ['workspace', 'create'], args: [{ name: 'name' }], flags: [], summary: 'a new workspace', handler: access },
  {
    words: ['workspace', 'list'],
    args: [],
    flags: [],
    summary: 'workspaces: your role, members, databases, storages',
    handler: access,
  },
  {
    words: ['audit'],
    args: [],
    summary: 'the audit log: who did what, when, to what, and the outcome',
    flags: [{ name: 'workspace', description: 'entries of this workspace' }, 'actor', 'action', 'since'],
    handler: access,
  },
];
