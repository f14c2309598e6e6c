/** `hindsight sso add|list|remove|only`, `user invite` and `user break-glass` (services/access/sso-admin.ts, invitations.ts). */
import { parseMapping } from '../lib/access/oidc/mapping.ts';
import type { RoleMapping } from '../lib/catalog/identity-providers.ts';
import type { AccessService } from '../services/access.ts';
import { mailFields } from '../services/access/invitation-mail.ts';
import type { Actor } from '../services/authz.ts';
import { readPassword } from './access.ts';
import { printJson, printList, UsageError } from './output.ts';

export interface SsoFlags {
  json: boolean;
  'no-check': boolean;
  issuer?: string | undefined;
  'client-id'?: string | undefined;
  'client-secret-file'?: string | undefined;
  'display-name'?: string | undefined;
  claim?: string | undefined;
  map?: unknown;
  workspace?: string | undefined;
  role?: string | undefined;
}

interface SsoCall {
  args: (string | undefined)[];
  flags: SsoFlags;
  access: AccessService;
  actor: Actor;
  usage: string;
}

function need<T>(value: T | undefined, what: string, usage: string): T {
  if (value === undefined || value === '') throw new UsageError(`${what} is required\n${usage}`);
  return value;
}

function mappings(value: unknown): RoleMapping[] {
  const given = Array.isArray(value) ? (value as string[]) : [];
  return given.map((text) => {
    const mapping = parseMapping(text);
    if (!mapping)
      throw new UsageError(
        `--map "${text}" is not value=workspace:role (for example --map hindsight-admins=default:admin)`,
      );
    return mapping;
  });
}

async function ssoAdd({ args: [name], flags, access, actor, usage }: SsoCall): Promise<void> {
  const providerName = need(name, 'provider name', usage);
  const clientSecret = await readPassword(flags['client-secret-file'], 'client secret: ');
  const provider = await access.addProvider(
    actor,
    {
      name: providerName,
      displayName: flags['display-name'] ?? providerName,
      issuer: need(flags.issuer, '--issuer <url>', usage),
      clientId: need(flags['client-id'], '--client-id <id>', usage),
      clientSecret,
      claim: flags.claim ?? 'groups',
      mappings: mappings(flags.map),
    },
    { check: !flags['no-check'] },
  );
  if (flags.json) printJson(provider);
  else
    process.stdout.write(
      `identity provider "${provider.name}" added: the login page offers "Sign in with ${provider.displayName}"\n`,
    );
}

async function ssoList({ flags, access, actor }: SsoCall): Promise<void> {
  const { providers, ssoOnly } = await access.listProviders(actor);
  if (flags.json) return printJson({ providers, ssoOnly });
  printList(false, providers, (p) => ({
    name: p.name,
    'display name': p.displayName,
    issuer: p.issuer,
    'client id': p.clientId,
    claim: p.claim,
    mapping: p.mappings.map((m) => `${m.value}=${m.workspace}:${m.role}`).join(' '),
  }));
  process.stdout.write(`SSO only: ${ssoOnly ? 'on (passwords refused except for break-glass accounts)' : 'off'}\n`);
}

async function ssoRemove({ args: [name], flags, access, actor, usage }: SsoCall): Promise<void> {
  const providerName = need(name, 'provider name', usage);
  await access.removeProvider(actor, providerName);
  if (flags.json) printJson({ name: providerName, removed: true });
  else process.stdout.write(`identity provider "${providerName}" removed\n`);
}

async function ssoOnly({ args: [value], flags, access, actor, usage }: SsoCall): Promise<void> {
  const setting = need(value, 'on or off', usage);
  if (setting !== 'on' && setting !== 'off')
    throw new UsageError(`sso only takes on or off, not "${setting}"\n${usage}`);
  await access.setSsoOnly(actor, setting === 'on');
  if (flags.json) printJson({ ssoOnly: setting === 'on' });
  else
    process.stdout.write(
      setting === 'on'
        ? 'SSO only: passwords are refused except for break-glass accounts\n'
        : 'SSO only is off: passwords are accepted again\n',
    );
}

async function userInvite({ args: [email], flags, access, actor, usage }: SsoCall): Promise<void> {
  const address = need(email, 'email', usage);
  const workspace = flags.workspace ?? 'default';
  const role = need(flags.role, '--role <owner|admin|editor|viewer>', usage);
  const { link, expiresAt, mail } = await access.invite(actor, { email: address, workspace, role });
  if (flags.json)
    return printJson({
      email: address,
      workspace,
      role,
      link,
      expiresAt: expiresAt.toISOString(),
      ...mailFields(mail),
    });
  const how = mail.emailed
    ? `emailed to ${address} through notifier "${mail.via}"; should it not arrive, the one-time link is`
    : `not emailed (${mail.reason}); send them this one-time link`;
  process.stdout.write(
    `invitation for "${address}" as ${role} of workspace "${workspace}", valid until ${expiresAt.toISOString()}; ${how}:\n${link}\n`,
  );
}

async function userBreakGlass({ args: [email, off], flags, access, actor, usage }: SsoCall): Promise<void> {
  const address = need(email, 'email', usage);
  await access.setBreakGlass(actor, address, off !== 'off');
  if (flags.json) printJson({ email: address, breakGlass: off !== 'off' });
  else
    process.stdout.write(
      off === 'off'
        ? `"${address}" is no longer a break-glass account\n`
        : `"${address}" is a break-glass account: its password works under SSO only\n`,
    );
}

export const ssoCommands: Record<string, (call: SsoCall) => Promise<void>> = {
  'sso add': ssoAdd,
  'sso list': ssoList,
  'sso remove': ssoRemove,
  'sso only': ssoOnly,
  'user invite': userInvite,
  'user break-glass': userBreakGlass,
};
