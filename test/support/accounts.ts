/**
 * Accounts for tests, made as people get them: invited to a workspace by `by` (who must be allowed
 * to give the role), then accepting the link with their own password. An instance owner is then
 * made so by the local operator, the only one who may.
 */
import type { AccessService } from '../../services/access.ts';
import { operatorActor, type Actor, type Role } from '../../services/authz.ts';

export interface NewAccount {
  email: string;
  password: string;
  workspace?: string;
  role: Role;
  instanceOwner?: boolean;
}

export async function addAccount(access: AccessService, by: Actor, account: NewAccount): Promise<void> {
  const { token } = await access.invite(by, {
    email: account.email,
    workspace: account.workspace ?? 'default',
    role: account.role,
  });
  await access.acceptWithPassword({ token, password: account.password, ip: '127.0.0.1', userAgent: null });
  if (account.instanceOwner) await access.setInstanceOwner(operatorActor('test'), account.email, true);
}
