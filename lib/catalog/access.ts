import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { bind } from './db.ts';
import { appendAudit, auditEntryMac, listAudit, purgeAudit, verifyAudit } from './audit.ts';
import { clearLoginAttempts, countLoginAttempt, loginAttemptsOf, uncountLoginAttempt } from './login-throttle.ts';
import { createFirstOwnerWithToken, issueSetupToken } from './setup-tokens.ts';
import { issuePasswordReset, passwordResetUser, usePasswordReset } from './password-resets.ts';
import { createSession, deleteOtherSessions, deleteSession, purgeExpiredSessions, touchSession } from './sessions.ts';
import {
  countUsers,
  createFirstOwner,
  createUser,
  findUserByEmail,
  getUser,
  getUserById,
  listUsers,
  setInstanceOwner,
  setPasswordHash,
  setUserDisabled,
} from './users.ts';
import {
  backupWorkspace,
  countOwners,
  createWorkspace,
  databaseWorkspace,
  findWorkspace,
  listWorkspaces,
  memberships,
  membershipsOfUser,
  removeMembership,
  setDatabaseWorkspace,
  setMembership,
  setStorageWorkspace,
  setWorkspaceEncryption,
  storageWorkspace,
  workspaceById,
  workspaceSummaries,
} from './workspaces.ts';

export { DEFAULT_WORKSPACE_ID, ROLES, type Role } from './roles.ts';
export { sessionTokenHash, type SessionRecord } from './sessions.ts';
export type { AuditEntry, AuditFilter, NewAuditEntry } from './audit.ts';
export type { UserRecord } from './users.ts';
export type { MembershipRecord, WorkspaceRecord, WorkspaceSummary } from './workspaces.ts';

/** Users, workspaces, memberships, sessions, login throttling and the audit log. */
export function createAccessStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind(pool, {
      countUsers,
      createUser,
      createFirstOwner,
      createFirstOwnerWithToken,
      issueSetupToken,
      issuePasswordReset,
      passwordResetUser,
      usePasswordReset,
      findUserByEmail,
      getUser,
      getUserById,
      listUsers,
      setUserDisabled,
      setPasswordHash,
      setInstanceOwner,
      createWorkspace,
      findWorkspace,
      workspaceById,
      listWorkspaces,
      workspaceSummaries,
      setWorkspaceEncryption,
      setMembership,
      removeMembership,
      membershipsOfUser,
      memberships,
      countOwners,
      createSession,
      touchSession,
      deleteSession,
      deleteOtherSessions,
      purgeExpiredSessions,
      countLoginAttempt,
      uncountLoginAttempt,
      clearLoginAttempts,
      loginAttemptsOf,
      listAudit,
      auditEntryMac,
      purgeAudit,
      databaseWorkspace,
      storageWorkspace,
      backupWorkspace,
      setDatabaseWorkspace,
      setStorageWorkspace,
    }),
    // Bound to the keyring too: each entry is linked to the audit chain with a key of the secret key.
    ...bind({ pool, keys }, { appendAudit, verifyAudit }),
  };
}

export type AccessStore = ReturnType<typeof createAccessStore>;
