/**
 * `hindsight user|member|workspace|audit`, and who the CLI acts as. The CLI runs on the server
 * with the secret key and could read the catalog directly, so by default it is the local operator
 * (every right, audited as cli:<os user>); HINDSIGHT_AS=<email> or --as <email> makes it act with
 * that user's roles instead, through the same authorization as the console and the API.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { HindsightError } from '../lib/errors.ts';
import type { AccessService } from '../services/access.ts';
import { operatorActor, type Actor } from '../services/authz.ts';
import { workspaceShow, workspaceUpdate } from './workspace-encryption.ts';
import { printJson, printList, UsageError } from './output.ts';

export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The operator, or the user named by --as / HINDSIGHT_AS. */
export async function cliActor(access: AccessService, as: string | undefined): Promise<Actor> {
  const email = as ?? process.env.HINDSIGHT_AS;
  if (!email) return operatorActor(osUser());
  return access.actorForEmail(email, 'cli');
}

/** A password from --password-file, else typed at a prompt without echo, else one line of stdin. */
export async function readPassword(passwordFile: string | undefined, prompt = 'password: '): Promise<string> {
  if (passwordFile) return (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
  if (!process.stdin.isTTY) {
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) return line;
    throw new UsageError('no password on stdin: pass --password-file <file> or type it at the prompt');
  }
  const muted = { muted: false };
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // readline has no "no echo" option; muting its private writer after the prompt is the usual way.
  const write = rl as unknown as { _writeToOutput: (s: string) => void };
  const original = write._writeToOutput.bind(rl);
  write._writeToOutput = (s: string) => {
    if (!muted.muted) original(s);
  };
  try {
    return await new Promise<string>((resolve) => {
      rl.question(prompt, (answer) => {
        process.stderr.write('\n');
        resolve(answer);
      });
      muted.muted = true;
    });
  } finally {
    rl.close();
  }
}

export interface AccessFlags {
  json: boolean;
  owner: boolean;
  workspace?: string | undefined;
  role?: string | undefined;
  name?: string | undefined;
  'password-file'?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  encryption?: string | undefined;
}

function need<T>(value: T | undefined, what: string, usage: string): T {
  if (value === undefined || value === '') throw new UsageError(`${what} is required\n${usage}`);
  return value;
}

/** `hindsight audit`: entries the actor may read, filtered; --since takes a date or a span (24h, 7d). */
async function runAudit(flags: AccessFlags, access: AccessService, actor: Actor): Promise<void> {
  const { json } = flags;
  let since: Date | undefined;
  if (flags.since) {
    since = /^\d+[hd]$/.test(flags.since)
      ? new Date(Date.now() - Number(flags.since.slice(0, -1)) * (flags.since.endsWith('h') ? 3600_000 : 86_400_000))
      : new Date(flags.since);
    if (Number.isNaN(since.getTime()))
      throw new HindsightError('bad_input', `--since "${flags.since}" is not a date or a span such as 24h or 7d`);
  }
  const entries = await access.listAudit(actor, {
    workspace: flags.workspace,
    actor: flags.actor,
    action: flags.action,
    since,
    limit: 1000,
  });
  printList(
    json,
    entries,
    (e) => ({
      at: e.at.toISOString().replace('T', ' ').slice(0, 19),
      actor: e.actor,
      source: e.source ?? '',
      workspace: e.workspace ?? '-',
      action: e.action,
      target: e.targetName ? `${e.targetType} ${e.targetName}` : '',
      outcome: e.outcome,
      change: [
        e.before !== null ? `before ${JSON.stringify(e.before)}` : '',
        e.after !== null ? `after ${JSON.stringify(e.after)}` : '',
        e.detail ?? '',
      ]
        .filter(Boolean)
        .join(' · ')
        .slice(0, 160),
    }),
    'no audit entries match',
  );
}

interface AccessInvocation {
  /** The arguments after the sub-command's words. */
  args: (string | undefined)[];
  flags: AccessFlags;
  access: AccessService;
  actor: Actor;
  usage: string;
}

type AccessHandler = (call: AccessInvocation) => Promise<void>;

/**
 * The operator's one password path: an owner of a workspace and of the installation, marked
 * break-glass. Everyone else is invited and chooses their own password (`user invite`).
 */
async function userCreate({ args: [arg], flags, access, actor, usage }: AccessInvocation): Promise<void> {
  const email = need(arg, 'email', usage);
  const workspace = flags.workspace ?? 'default';
  if (!flags.owner)
    throw new HindsightError(
      'bad_input',
      `hindsight user create makes an owner of the installation only (--owner): invite everyone else, who then chooses their own password: hindsight user invite ${email} --workspace ${workspace} --role <admin|editor|viewer>`,
    );
  const password = await readPassword(flags['password-file'], `password for ${email}: `);
  const user = await access.createOwner(actor, { email, password, displayName: flags.name, workspace });
  if (flags.json) printJson(user);
  else
    process.stdout.write(
      `user "${user.email}" created, owner of workspace "${workspace}" and of the installation, break-glass (signs in with its password under SSO only)\n`,
    );
}

async function userList({ flags, access, actor }: AccessInvocation): Promise<void> {
  printList(flags.json, await access.listUsers(actor), (u) => ({
    email: u.email,
    name: u.displayName,
    status: u.disabled ? 'disabled' : 'active',
    instance: u.instanceOwner ? 'owner' : '',
    workspaces: u.memberships.map((m) => `${m.workspace}:${m.role}`).join(' '),
  }));
}

function userSetDisabled(disable: boolean): AccessHandler {
  return async ({ args: [arg], flags, access, actor, usage }) => {
    const email = need(arg, 'email', usage);
    const user = await access.setUserDisabled(actor, email, disable);
    if (flags.json) printJson(user);
    else process.stdout.write(`user "${user.email}" ${disable ? 'disabled (its sessions are closed)' : 'enabled'}\n`);
  };
}

async function userInstanceOwner({ args: [arg, extra], flags, access, actor, usage }: AccessInvocation): Promise<void> {
  const email = need(arg, 'email', usage);
  const revoke = extra === 'off';
  const user = await access.setInstanceOwner(actor, email, !revoke);
  if (flags.json) printJson(user);
  else process.stdout.write(`user "${user.email}" ${revoke ? 'no longer owns' : 'now owns'} the installation\n`);
}

/** For a user who lost every second factor: only the local operator on the server may do this. */
async function userResetSecondFactor({ args: [arg], flags, access, actor, usage }: AccessInvocation): Promise<void> {
  const email = need(arg, 'email', usage);
  const removed = await access.resetSecondFactors(actor, email);
  if (flags.json) printJson({ email, ...removed });
  else
    process.stdout.write(
      `second factors of "${email}" removed: ${removed.totp ? 'authenticator app, ' : ''}${removed.recoveryCodes} recovery code(s), ${removed.passkeys} passkey(s); the password alone signs in until a new one is added\n`,
    );
}

async function userResetPassword({ args: [arg], flags, access, actor, usage }: AccessInvocation): Promise<void> {
  const email = need(arg, 'email', usage);
  const link = await access.issuePasswordReset(actor, email);
  if (flags.json) printJson({ email, url: link.url, expiresAt: link.expiresAt.toISOString() });
  else
    process.stdout.write(
      `password reset link for "${email}", usable once until ${link.expiresAt.toISOString()}:\n${link.url}\n`,
    );
}

type MemberHandler = (call: AccessInvocation, email: string, workspace: string) => Promise<void>;

async function memberAdd(call: AccessInvocation, email: string, workspace: string): Promise<void> {
  const { args, flags, access, actor, usage } = call;
  const role = need(args[2], 'role (owner, admin, editor or viewer)', usage);
  await access.setMember(actor, email, workspace, role);
  if (flags.json) printJson({ email, workspace, role });
  else process.stdout.write(`"${email}" is ${role} of workspace "${workspace}"\n`);
}

async function memberRemove({ flags, access, actor }: AccessInvocation, email: string, workspace: string) {
  await access.removeMember(actor, email, workspace);
  if (flags.json) printJson({ email, workspace, removed: true });
  else process.stdout.write(`"${email}" is no longer a member of workspace "${workspace}"\n`);
}

async function workspaceCreate({ args: [arg], flags, access, actor, usage }: AccessInvocation): Promise<void> {
  const workspace = await access.createWorkspace(actor, need(arg, 'workspace name', usage));
  if (flags.json) printJson(workspace);
  else process.stdout.write(`workspace "${workspace.name}" created\n`);
}

async function workspaceList({ flags, access, actor }: AccessInvocation): Promise<void> {
  printList(flags.json, await access.listWorkspaces(actor), (w) => ({
    name: w.name,
    role: w.role,
    members: String(w.members),
    databases: String(w.databases),
    storages: String(w.storages),
  }));
}

const userCommands: Record<string, AccessHandler> = {
  create: userCreate,
  list: userList,
  disable: userSetDisabled(true),
  enable: userSetDisabled(false),
  'instance-owner': userInstanceOwner,
  'reset-2fa': userResetSecondFactor,
  'reset-password': userResetPassword,
};

const memberCommands: Record<string, MemberHandler> = { add: memberAdd, remove: memberRemove };

const workspaceCommands: Record<string, AccessHandler> = {
  create: workspaceCreate,
  list: workspaceList,
  update: workspaceUpdate,
  show: workspaceShow,
};

function lookup<H>(table: Record<string, H>, sub: string | undefined): H | undefined {
  return sub !== undefined && Object.hasOwn(table, sub) ? table[sub] : undefined;
}

function unknown(command: string, usage: string): never {
  throw new UsageError(`unknown command: ${command}\n${usage}`);
}

export async function runAccessCommand(
  positionals: string[],
  flags: AccessFlags,
  access: AccessService,
  actor: Actor,
  usage: string,
): Promise<void> {
  const [command, sub, ...args] = positionals;
  const call: AccessInvocation = { args, flags, access, actor, usage };
  switch (command) {
    case 'user':
      return (lookup(userCommands, sub) ?? unknown(`user ${sub ?? ''}`, usage))(call);
    case 'member': {
      const email = need(args[0], 'email', usage);
      const workspace = need(args[1], 'workspace', usage);
      return (lookup(memberCommands, sub) ?? unknown(`member ${sub ?? ''}`, usage))(call, email, workspace);
    }
    case 'workspace':
      return (lookup(workspaceCommands, sub) ?? unknown(`workspace ${sub ?? ''}`, usage))(call);
    case 'audit':
      return runAudit(flags, access, actor);
    default:
      throw new UsageError(`unknown command: ${command}\n${usage}`);
  }
}
