/**
 * Invitations to a workspace by email address: a one-time link whose token is stored only as a
 * SHA-256, accepted once before it expires, and remembered after, because membership changes
 * reach only accounts that accepted an invitation to the workspace.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { allRows, bind, withTransaction, type Queryable } from './db.ts';
import type { Role } from './roles.ts';

export interface Invitation {
  email: string;
  workspaceId: number;
  workspace: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
}

interface InvitationRow {
  email: string;
  workspace_id: string;
  workspace: string;
  role: Role;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
}

const toInvitation = (row: InvitationRow): Invitation => ({
  email: row.email,
  workspaceId: Number(row.workspace_id),
  workspace: row.workspace,
  role: row.role,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  acceptedAt: row.accepted_at,
});

export const invitationTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

const SELECT = `select i.*, w.name as workspace from invitations i join workspaces w on w.id = i.workspace_id`;

/** A new invitation; returns its token (256 random bits), which only the link carries. */
async function createInvitation(
  db: Queryable,
  input: { email: string; workspaceId: number; role: Role; invitedBy: number | null; ttlMs: number },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ expires_at: Date }>(
    `insert into invitations (token_sha256, email, workspace_id, role, invited_by, expires_at)
     values ($1, lower($2), $3, $4, $5, now() + $6 * interval '1 millisecond') returning expires_at`,
    [invitationTokenHash(token), input.email, input.workspaceId, input.role, input.invitedBy, input.ttlMs],
  );
  return { token, expiresAt: rows[0]!.expires_at };
}

/** The invitation behind a link's token hash, whatever its state (the caller says why it cannot be used). */
async function findInvitation(db: Queryable, tokenSha256: string): Promise<Invitation | undefined> {
  const { rows } = await db.query<InvitationRow>(`${SELECT} where i.token_sha256 = $1`, [tokenSha256]);
  return rows[0] ? toInvitation(rows[0]) : undefined;
}

/**
 * Marks the invitation accepted by `userId` and gives the role, in one transaction; undefined
 * when the link is unknown, expired or already used (the row is locked, so two clicks race safely).
 */
async function acceptInvitation(
  pool: pg.Pool,
  tokenSha256: string,
  accept: (tx: pg.PoolClient, invitation: Invitation) => Promise<number>,
): Promise<Invitation | undefined> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<InvitationRow>(
      `${SELECT} where i.token_sha256 = $1 and i.accepted_at is null and i.expires_at > now() for update of i`,
      [tokenSha256],
    );
    if (!rows[0]) return undefined;
    const invitation = toInvitation(rows[0]);
    const userId = await accept(tx, invitation);
    await tx.query(
      `insert into memberships (user_id, workspace_id, role) values ($1, $2, $3)
       on conflict (user_id, workspace_id) do update set role = excluded.role`,
      [userId, invitation.workspaceId, invitation.role],
    );
    await tx.query('update invitations set accepted_at = now(), accepted_by = $2 where token_sha256 = $1', [
      tokenSha256,
      userId,
    ]);
    return { ...invitation, acceptedAt: new Date() };
  });
}

/** Whether the account accepted an invitation to the workspace (or is already a member of it). */
async function reachable(db: Queryable, userId: number, workspaceId: number): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    `select exists (select 1 from invitations where accepted_by = $1 and workspace_id = $2)
         or exists (select 1 from memberships where user_id = $1 and workspace_id = $2) as ok`,
    [userId, workspaceId],
  );
  return rows[0]?.ok === true;
}

const listInvitations = (db: Queryable, workspaceIds: number[]) =>
  allRows(db, `${SELECT} where i.workspace_id = any($1) order by i.created_at desc`, [workspaceIds], toInvitation);

export function createInvitationStore(pool: pg.Pool) {
  return {
    acceptInvitation: (tokenSha256: string, accept: Parameters<typeof acceptInvitation>[2]) =>
      acceptInvitation(pool, tokenSha256, accept),
    ...bind(pool, { createInvitation, findInvitation, reachable, listInvitations }),
  };
}

export type InvitationStore = ReturnType<typeof createInvitationStore>;
