/** `hindsight user|member|workspace|audit`: accounts, their roles, and the audit log (cli/access.ts). */
import { commandsFrom, type CommandOptions } from './types.ts';

// Every access command runs through one handler, which dispatches on the command's words.
const command = commandsFrom(() => import('../handlers/access.ts'));
const access = (words: string, summary: string, options?: CommandOptions) => command(words, summary, 'access', options);

const email = { name: 'email' };

export const accessCommands = [
  access('user create', 'an owner with a password, break-glass (local operator only; invite everyone else)', {
    args: [email],
    flags: [
      { name: 'owner', description: 'required: owner of the workspace and of the installation' },
      { name: 'workspace', description: 'the workspace (default: "default")' },
      { name: 'name', description: 'the display name' },
      'password-file',
    ],
  }),
  access('user list', 'accounts: status, installation owner, workspaces and roles'),
  access('user disable', 'disables the account and closes its sessions', { args: [email] }),
  access('user enable', 'enables the account again', { args: [email] }),
  access(
    'user reset-password',
    "prints a one-time link (valid 24 hours) that sets the account's password and ends its sessions",
    { args: [email] },
  ),
  access('user instance-owner', 'grants (or with "off" takes) ownership of the installation', {
    args: [email, { name: 'off', optional: true }],
  }),
  access('user reset-2fa', "removes the user's authenticator app, recovery codes and passkeys (local operator only)", {
    args: [email],
  }),
  access('user invite', 'a one-time link (7 days) for the address to join the workspace with its own password or SSO', {
    args: [email],
    flags: [
      { name: 'workspace', description: 'the workspace (default: "default")' },
      { name: 'role', description: 'owner, admin, editor or viewer in the workspace' },
    ],
  }),
  access('user break-glass', 'keeps (or with "off" stops) the password of the account working under SSO only', {
    args: [email, { name: 'off', optional: true }],
  }),
  access('member add', 'gives a role in the workspace to a user who accepted an invitation to it', {
    args: [email, { name: 'workspace' }, { name: 'owner|admin|editor|viewer' }],
  }),
  access('member remove', 'takes the user out of the workspace', { args: [email, { name: 'workspace' }] }),
  access('workspace create', 'a new workspace', { args: [{ name: 'name' }] }),
  access('workspace list', 'workspaces: your role, members, databases, storages'),
  access(
    'workspace update',
    'sets the default encryption of its databases without their own (public-key:<recipient> or kms:<name>; secret-key: none)',
    {
      args: [{ name: 'name' }],
      flags: [
        {
          name: 'encryption',
          description:
            'secret-key (no default) | public-key:<recipient> | kms:<name>: how its databases without their own setting encrypt backups, WAL and base backups',
        },
      ],
    },
  ),
  access('workspace show', "its default encryption, and each database's: from where, and who can decrypt it", {
    args: [{ name: 'name' }],
  }),
  access('sso add', 'an OpenID Connect provider, offered on the login page by its display name', {
    args: [{ name: 'name' }],
    flags: ['issuer', 'client-id', 'client-secret-file', 'display-name', 'claim', 'map', 'no-check'],
  }),
  access('sso list', 'identity providers: issuer, client id, claim and mapping (never the secret)'),
  access('sso remove', 'removes the provider; its users keep their accounts', { args: [{ name: 'name' }] }),
  access('sso only', 'refuses passwords except for break-glass accounts ("off": accepts them again)', {
    args: [{ name: 'on|off' }],
  }),
  access('audit', 'the audit log: who did what, when, to what, and the outcome', {
    flags: [{ name: 'workspace', description: 'entries of this workspace' }, 'actor', 'action', 'since'],
  }),
];
