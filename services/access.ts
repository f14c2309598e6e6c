/**
 * Accounts, workspaces and memberships, login sessions with rate limiting, and reading the audit
 * log. Each change is authorized through services/authz.ts and audited like any other; the parts
 * live in services/access/, one concern each, and are composed here into the one service.
 */
import type { Authz } from './authz.ts';
import type { Runtime } from './runtime.ts';
import { auditOperations } from './access/audit.ts';
import { secondFactorOperations } from './access/second-factor.ts';
import { invitationOperations } from './access/invitations.ts';
import { sessionOperations } from './access/sessions.ts';
import { ssoAdminOperations } from './access/sso-admin.ts';
import { ssoSignInOperations } from './access/sso-login.ts';
import { defaultLoginPolicy, type AccessDeps, type LoginPolicy } from './access/types.ts';
import { userOperations } from './access/users.ts';
import { workspaceEncryptionOperations } from './access/workspace-encryption.ts';
import { workspaceOperations } from './access/workspaces.ts';

export { displayNameSchema, emailSchema, passwordSchema, roleSchema, workspaceNameSchema } from './access/input.ts';
export type { SignInOutcome } from './access/sso-login.ts';
export type { InvitationView } from './access/invitations.ts';
export type { ProviderInput } from './access/sso-admin.ts';
export { defaultLoginPolicy, type AuditQuery, type LoginPolicy, type UserWithMemberships } from './access/types.ts';

export function createAccessService(runtime: Runtime, authz: Authz, policy: LoginPolicy = defaultLoginPolicy) {
  const deps: AccessDeps = { runtime, authz, policy, store: runtime.catalog.access };
  return {
    ...sessionOperations(deps),
    ...userOperations(deps),
    ...workspaceOperations(deps),
    ...workspaceEncryptionOperations(deps),
    ...auditOperations(deps),
    ...secondFactorOperations(deps),
    ...ssoAdminOperations(deps),
    ...ssoSignInOperations(deps),
    ...invitationOperations(deps),
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
