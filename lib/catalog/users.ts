import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { allRows, firstRow, isUniqueViolation, withTransaction, type Queryable } from './db.ts';
import { DEFAULT_WORKSPACE_ID } from './roles.ts';

export interface UserRecord {
  id: number;
  email: string;
  displayName: string;
  disabled: boolean;
  createdAt: Date;
  /** Owner of the installation: may set what runs code or touches paths on the shared worker (services/authz.ts). */
  instanceOwner: boolean;
}

export interface NewUser {
  email: string;
  displayName: string;
  /** Null for an account that signs in only through single sign-on. */
  passwordHash: string | null;
  instanceOwner?: boolean;
}

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  disabled: boolean;
  created_at: Date;
  instance_owner: boolean | null;
  password_hash: string | null;
}

const toUser = (row: UserRow): UserRecord => ({
  id: Number(row.id),
  email: row.email,
  displayName: row.display_name,
  disabled: row.disabled,
  createdAt: row.created_at,
  instanceOwner: row.instance_owner === true,
});

const noSuchUser = (email: string) =>
  new HindsightError('not_found', `user "${email}" does not exist (hindsight user list shows them)`);

export async function countUsers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from users');
  return rows[0]!.n;
}

export async function createUser(db: Queryable, input: NewUser): Promise<UserRecord> {
  try {
    const { rows } = await db.query<UserRow>(
      'insert into users (email, display_name, password_hash, instance_owner) values ($1, $2, $3, $4) returning *',
      [input.email, input.displayName, input.passwordHash, input.instanceOwner ?? false],
    );
    return toUser(rows[0]!);
  } catch (error) {
    if (isUniqueViolation(error)) throw new HindsightError('conflict', `user "${input.email}" already exists`);
    throw error;
  }
}

/**
 * The first account, owner of the default workspace and of the installation, in one transaction;
 * refused once any account exists. Two first-run forms submitted at once: the table lock makes
 * the second see the first's account.
 */
export async function createFirstOwner(pool: pg.Pool, input: Omit<NewUser, 'instanceOwner'>): Promise<UserRecord> {
  return withTransaction(pool, (tx) => createFirstOwnerIn(tx, input));
}

/** The first owner, inside the caller's transaction: refused once any account exists. */
export async function createFirstOwnerIn(tx: Queryable, input: Omit<NewUser, 'instanceOwner'>): Promise<UserRecord> {
  await tx.query('lock table users in exclusive mode');
  if ((await countUsers(tx)) > 0) {
    throw new HindsightError('conflict', 'an owner account already exists: log in, or ask an owner to invite you');
  }
  const user = await createUser(tx, { ...input, instanceOwner: true });
  await tx.query(`insert into memberships (user_id, workspace_id, role) values ($1, $2, 'owner')`, [
    user.id,
    DEFAULT_WORKSPACE_ID,
  ]);
  return user;
}

/**
 * Replaces a user's password hash; with `expected`, only if the stored hash is still that one (an
 * upgrade after sign-in must not undo a password change made meanwhile). True when it changed.
 */
export async function setPasswordHash(
  db: Queryable,
  userId: number,
  passwordHash: string,
  expected?: string,
): Promise<boolean> {
  const result = await db.query(
    'update users set password_hash = $2 where id = $1 and ($3::text is null or password_hash = $3)',
    [userId, passwordHash, expected ?? null],
  );
  return result.rowCount === 1;
}

export async function findUserByEmail(
  db: Queryable,
  email: string,
): Promise<(UserRecord & { passwordHash: string | null }) | undefined> {
  const { rows } = await db.query<UserRow>('select * from users where lower(email) = lower($1)', [email]);
  return rows[0] ? { ...toUser(rows[0]), passwordHash: rows[0].password_hash } : undefined;
}

export async function getUser(db: Queryable, email: string): Promise<UserRecord> {
  const user = await findUserByEmail(db, email);
  if (!user) throw noSuchUser(email);
  const { passwordHash: _hidden, ...rest } = user;
  return rest;
}

export async function getUserById(db: Queryable, id: number): Promise<UserRecord | undefined> {
  return firstRow(db, 'select * from users where id = $1', [id], toUser);
}

export async function listUsers(db: Queryable): Promise<UserRecord[]> {
  return allRows(db, 'select * from users order by lower(email)', [], toUser);
}

/** A disabled account loses its open sessions at once, in the same transaction. */
export async function setUserDisabled(pool: pg.Pool, email: string, disabled: boolean): Promise<UserRecord> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<UserRow>(
      'update users set disabled = $2 where lower(email) = lower($1) returning *',
      [email, disabled],
    );
    if (!rows[0]) throw noSuchUser(email);
    if (disabled) await tx.query('delete from sessions where user_id = $1', [rows[0].id]);
    return toUser(rows[0]);
  });
}

export async function setInstanceOwner(db: Queryable, userId: number, instanceOwner: boolean): Promise<void> {
  await db.query('update users set instance_owner = $2 where id = $1', [userId, instanceOwner]);
}

/** Sets the account's own password (accepting an invitation). */
