import { createHash } from 'node:crypto';
import { allRows, bind, firstRow, type Queryable } from './db.ts';
import type { Role } from './roles.ts';

export interface ApiTokenRecord {
  id: number;
  userId: number;
  email: string;
  workspaceId: number;
  workspace: string;
  role: Role;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiToken {
  userId: number;
  workspaceId: number;
  role: Role;
  name: string;
  prefix: string;
  secret: string;
  expiresAt: Date | null;
}

interface ApiTokenRow {
  id: string;
  user_id: string;
  email: string;
  workspace_id: string;
  workspace: string;
  role: Role;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export const apiTokenHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

const toToken = (row: ApiTokenRow): ApiTokenRecord => ({
  id: Number(row.id),
  userId: Number(row.user_id),
  email: row.email,
  workspaceId: Number(row.workspace_id),
  workspace: row.workspace,
  role: row.role,
  name: row.name,
  prefix: row.prefix,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

const select = `select t.*, u.email, w.name as workspace
  from api_tokens t join users u on u.id = t.user_id join workspaces w on w.id = t.workspace_id`;

async function create(db: Queryable, input: NewApiToken): Promise<ApiTokenRecord> {
  const { rows } = await db.query<{ id: string }>(
    `insert into api_tokens (user_id, workspace_id, role, name, prefix, token_sha256, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7) returning id`,
    [
      input.userId,
      input.workspaceId,
      input.role,
      input.name,
      input.prefix,
      apiTokenHash(input.secret),
      input.expiresAt,
    ],
  );
  return (await get(db, Number(rows[0]!.id)))!;
}

async function get(db: Queryable, id: number): Promise<ApiTokenRecord | undefined> {
  return firstRow(db, `${select} where t.id = $1`, [id], toToken);
}

/** A user's tokens, newest first, revoked ones included so the list explains a 401. */
async function listForUser(db: Queryable, userId: number): Promise<ApiTokenRecord[]> {
  return allRows(db, `${select} where t.user_id = $1 order by t.created_at desc, t.id desc`, [userId], toToken);
}

/**
 * The live token of a secret (not revoked, not expired, its user not disabled), marking it used.
 * last_used_at is written at most once a minute, so a busy script does not turn reads into writes.
 */
async function use(db: Queryable, secret: string): Promise<ApiTokenRecord | undefined> {
  const { rows } = await db.query<ApiTokenRow>(
    `${select} where t.token_sha256 = $1 and t.revoked_at is null and (t.expires_at is null or t.expires_at > now()) and not u.disabled`,
    [apiTokenHash(secret)],
  );
  const token = rows[0] ? toToken(rows[0]) : undefined;
  if (token && (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > 60_000)) {
    await db.query('update api_tokens set last_used_at = now() where id = $1', [token.id]);
  }
  return token;
}

async function revoke(db: Queryable, id: number): Promise<boolean> {
  const result = await db.query('update api_tokens set revoked_at = now() where id = $1 and revoked_at is null', [id]);
  return (result.rowCount ?? 0) > 0;
}

/** Personal API tokens; the secret itself is never stored, only its SHA-256. */
export function createApiTokenStore(db: Queryable) {
  return bind(db, { create, get, listForUser, use, revoke });
}

export type ApiTokenStore = ReturnType<typeof createApiTokenStore>;
