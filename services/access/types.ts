/** The login policy and the shapes every part of the access service shares. */
import type { AccessStore, Role, UserRecord } from '../../lib/catalog/access.ts';
import type { Authz } from '../authz.ts';
import type { Runtime } from '../runtime.ts';

export interface LoginPolicy {
  /** Failed logins of one account before it is locked. */
  accountLimit: number;
  /** Failed logins from one client address before it is locked. */
  ipLimit: number;
  /** The first lockout; each further one of the same key doubles it (up to 64×). */
  lockMs: number;
  /** Each failure is answered after baseDelayMs × 2^(failures − 1), at most maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Sessions end after this long without a request. */
  sessionTtlMs: number;
}

export const defaultLoginPolicy: LoginPolicy = {
  accountLimit: 5,
  ipLimit: 20,
  lockMs: 15 * 60_000,
  baseDelayMs: 100,
  maxDelayMs: 3_200,
  sessionTtlMs: 12 * 3600_000,
};

export interface UserWithMemberships extends UserRecord {
  memberships: Array<{ workspace: string; workspaceId: number; role: Role }>;
}

export interface AuditQuery {
  workspace?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  limit?: number | undefined;
}

/** What every part of the access service works with. */
export interface AccessDeps {
  runtime: Runtime;
  authz: Authz;
  policy: LoginPolicy;
  store: AccessStore;
}
