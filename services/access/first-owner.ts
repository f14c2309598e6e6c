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
  const user = await store.createFirstOwner({ email, displayName, passwordHash: await hashPassword(password) });
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
