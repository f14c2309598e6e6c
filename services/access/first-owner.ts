/** Setting up a fresh installation: its first account owns the default workspace and the installation. */
import { DEFAULT_WORKSPACE_ID, type AccessStore, type UserRecord } from '../../lib/catalog/access.ts';
import { hashPassword } from '../../lib/access/password.ts';
import { displayNameSchema, emailSchema, parseOrThrow, passwordSchema } from './input.ts';
import { actorForUser } from './lookups.ts';
import type { AccessDeps } from './types.ts';

export interface FirstOwnerInput {
  email: string;
  password: string;
  displayName?: string;
  /** Required over the web (/setup); the local operator's CLI has no need of one. */
  setupToken?: string | undefined;
}

/** How long a setup token printed at start stays valid. */
export const SETUP_TOKEN_TTL_MS = 24 * 3600_000;

/** A one-time token for /setup, or undefined once an account exists. */
export async function issueSetupToken(store: AccessStore): Promise<string | undefined> {
  return (await needsSetup(store)) ? store.issueSetupToken(SETUP_TOKEN_TTL_MS) : undefined;
}

export async function needsSetup(store: AccessStore): Promise<boolean> {
  return (await store.countUsers()) === 0;
}

/** The first account, owner of the default workspace and of the installation; refused once any account exists. */
export async function createFirstOwner(
  { store, authz }: AccessDeps,
  input: FirstOwnerInput,
  source: string,
): Promise<UserRecord> {
  const email = parseOrThrow(emailSchema, input.email, 'email');
  const password = parseOrThrow(passwordSchema, input.password, 'password');
  const displayName = parseOrThrow(displayNameSchema, input.displayName ?? '', 'display name');
  const record = { email, displayName, passwordHash: await hashPassword(password) };
  let user: UserRecord;
  try {
    user =
      input.setupToken === undefined
        ? await store.createFirstOwner(record)
        : await store.createFirstOwnerWithToken(record, String(input.setupToken));
  } catch (err) {
    if ((err as { kind?: string }).kind === 'forbidden')
      await store.appendAudit({
        actorUserId: null,
        actor: 'unknown user',
        workspaceId: null,
        action: 'auth.setup',
        source,
        outcome: 'denied',
        detail: (err as Error).message,
      });
    throw err;
  }
  const actor = (await actorForUser(store, user.id, source))!;
  await authz.audit(actor, {
    workspaceId: DEFAULT_WORKSPACE_ID,
    action: 'auth.setup',
    target: { type: 'user', name: email },
    outcome: 'ok',
    after: { email, role: 'owner', workspace: 'default', instanceOwner: true },
  });
  return user;
}
