/** The login policy and the shapes every part of the access service shares. */
import type { AccessStore, Role, UserRecord } from '../../lib/catalog/access.ts';
import type { Authz } from '../authz.ts';
import type { Runtime } from '../runtime.ts';

export interface LoginPolicy {
  /** Sign-in attempts at one account from one client address per window. */
  accountLimit: number;
  /** Sign-in attempts from one client address per window, whatever the account. */
  ipLimit: number;
  /** The throttling window: a key over its limit is refused until its window ends. */
  windowMs: number;
  /** Each failure is answered after baseDelayMs × 2^(failures − 1), at most maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Sessions end after this long without a request. */
  sessionTtlMs: number;
  /** Sessions end this long after sign-in, however active (HINDSIGHT_SESSION_MAX_HOURS). */
  sessionMaxMs: number;
}

export const defaultLoginPolicy: LoginPolicy = {
  accountLimit: 5,
  ipLimit: 20,
  windowMs: 15 * 60_000,
  baseDelayMs: 100,
  maxDelayMs: 3_200,
  sessionTtlMs: 12 * 3600_000,
  sessionMaxMs: 7 * 24 * 3600_000,
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
