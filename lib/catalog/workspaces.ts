import { HindsightError } from '../errors.ts';
import { allRows, firstRow, isUniqueViolation, type Queryable } from './db.ts';
import type { Role } from './roles.ts';

export interface WorkspaceRecord {
  id: number;
  name: string;
  /** Public-key mode by default: the recipient its databases without their own setting use. */
  encryptionRecipient: string | null;
  /** KMS mode by default: the named KMS key its databases without their own setting use. */
  encryptionKms: string | null;
  createdAt: Date;
}
export interface MembershipRecord {
  userId: number;
  email: string;
  workspaceId: number;
  workspace: string;
  role: Role;
}
/** A workspace with how much it holds, for the workspace list. */
export interface WorkspaceSummary {
  id: number;
  name: string;
  members: number;
  databases: number;
  storages: number;
}

interface WorkspaceRow {
  id: string;
  name: string;
  encryption_recipient: string | null;
  encryption_kms: string | null;
  created_at: Date;
}

const toWorkspace = (row: WorkspaceRow): WorkspaceRecord => ({
  id: Number(row.id),
  name: row.name,
  encryptionRecipient: row.encryption_recipient,
  encryptionKms: row.encryption_kms,
  createdAt: row.created_at,
});

/** The workspace's default encryption; both null: the installation's secret key. */
export async function setWorkspaceEncryption(
  db: Queryable,
  id: number,
  encryption: { recipient: string | null; kms: string | null },
): Promise<WorkspaceRecord> {
  const { rows } = await db.query<WorkspaceRow>(
    'update workspaces set encryption_recipient = $2, encryption_kms = $3 where id = $1 returning *',
    [id, encryption.recipient, encryption.kms],
  );
  if (!rows[0]) throw new HindsightError('not_found', `workspace ${id} does not exist`);
  return toWorkspace(rows[0]);
}

async function oneWorkspace(db: Queryable, where: string, value: unknown): Promise<WorkspaceRecord | undefined> {
  return firstRow(db, `select * from workspaces where ${where} = $1`, [value], toWorkspace);
}

export async function createWorkspace(db: Queryable, name: string): Promise<WorkspaceRecord> {
  try {
    const { rows } = await db.query<WorkspaceRow>('insert into workspaces (name) values ($1) returning *', [name]);
    return toWorkspace(rows[0]!);
  } catch (error) {
    if (isUniqueViolation(error)) throw new HindsightError('conflict', `workspace "${name}" already exists`);
    throw error;
  }
}

export const findWorkspace = (db: Queryable, name: string): Promise<WorkspaceRecord | undefined> =>
  oneWorkspace(db, 'name', name);
export const workspaceById = (db: Queryable, id: number): Promise<WorkspaceRecord | undefined> =>
  oneWorkspace(db, 'id', id);

export async function listWorkspaces(db: Queryable): Promise<WorkspaceRecord[]> {
  return allRows(db, 'select * from workspaces order by id', [], toWorkspace);
}

/** Every workspace with its number of members, databases and storages, in id order. */
export async function workspaceSummaries(db: Queryable): Promise<WorkspaceSummary[]> {
  const { rows } = await db.query<WorkspaceRow & { members: number; databases: number; storages: number }>(
    `select w.id, w.name,
            (select count(*)::int from memberships m where m.workspace_id = w.id) as members,
            (select count(*)::int from databases d where d.workspace_id = w.id) as databases,
            (select count(*)::int from storages s where s.workspace_id = w.id) as storages
       from workspaces w order by w.id`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    name: r.name,
    members: r.members,
    databases: r.databases,
    storages: r.storages,
  }));
}

export async function setMembership(db: Queryable, userId: number, workspaceId: number, role: Role): Promise<void> {
  await db.query(
    `insert into memberships (user_id, workspace_id, role) values ($1, $2, $3)
     on conflict (user_id, workspace_id) do update set role = excluded.role`,
    [userId, workspaceId, role],
  );
}

export async function removeMembership(db: Queryable, userId: number, workspaceId: number): Promise<boolean> {
  const result = await db.query('delete from memberships where user_id = $1 and workspace_id = $2', [
    userId,
    workspaceId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

export async function memberships(
  db: Queryable,
  filter: { userId?: number; workspaceId?: number } = {},
): Promise<MembershipRecord[]> {
  const { rows } = await db.query<{
    user_id: string;
    email: string;
    workspace_id: string;
    workspace: string;
    role: Role;
  }>(
    `select m.user_id, u.email, m.workspace_id, w.name as workspace, m.role
       from memberships m join users u on u.id = m.user_id join workspaces w on w.id = m.workspace_id
      where ($1::bigint is null or m.user_id = $1) and ($2::bigint is null or m.workspace_id = $2)
      order by w.name, lower(u.email)`,
    [filter.userId ?? null, filter.workspaceId ?? null],
  );
  return rows.map((r) => ({
    userId: Number(r.user_id),
    email: r.email,
    workspaceId: Number(r.workspace_id),
    workspace: r.workspace,
    role: r.role,
  }));
}

export const membershipsOfUser = (db: Queryable, userId: number): Promise<MembershipRecord[]> =>
  memberships(db, { userId });

export async function countOwners(db: Queryable, workspaceId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from memberships m join users u on u.id = m.user_id
      where m.workspace_id = $1 and m.role = 'owner' and not u.disabled`,
    [workspaceId],
  );
  return rows[0]!.n;
}

async function workspaceIdOf(
  db: Queryable,
  table: 'databases' | 'storages',
  name: string,
): Promise<number | undefined> {
  return firstRow(db, `select workspace_id from ${table} where name = $1`, [name], (row: { workspace_id: string }) =>
    Number(row.workspace_id),
  );
}

export const databaseWorkspace = (db: Queryable, name: string) => workspaceIdOf(db, 'databases', name);
export const storageWorkspace = (db: Queryable, name: string) => workspaceIdOf(db, 'storages', name);

export async function backupWorkspace(
  db: Queryable,
  backupId: string,
): Promise<{ workspaceId: number; database: string } | undefined> {
  return firstRow(
    db,
    'select d.workspace_id, d.name from backups b join databases d on d.id = b.database_id where b.id = $1',
    [backupId],
    (row: { workspace_id: string; name: string }) => ({ workspaceId: Number(row.workspace_id), database: row.name }),
  );
}

export async function setDatabaseWorkspace(db: Queryable, name: string, workspaceId: number): Promise<void> {
  await db.query('update databases set workspace_id = $2 where name = $1', [name, workspaceId]);
}

export async function setStorageWorkspace(db: Queryable, name: string, workspaceId: number): Promise<void> {
  await db.query('update storages set workspace_id = $2 where name = $1', [name, workspaceId]);
}
