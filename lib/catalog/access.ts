import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { HindsightError } from '../errors.ts';

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const DEFAULT_WORKSPACE_ID = 1;

export interface WorkspaceRecord { id: number; name: string; createdAt: Date }
export interface UserRecord {
  id: number; email: string; displayName: string; disabled: boolean; createdAt: Date;
  /** Owner of the installation: may set what runs code or touches paths on the shared worker (services/authz.ts). */
  instanceOwner: boolean;
}
export interface MembershipRecord { userId: number; email: string; workspaceId: number; workspace: string; role: Role }
export interface SessionRecord { userId: number; expiresAt: Date; lastSeenAt: Date }

export interface AuditEntry {
  id: number;
  at: Date;
  actorUserId: number | null;
  actor: string;
  workspaceId: number | null;
  workspace: string | null;
  action: string;
  targetType: string | null;
  targetName: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  before: unknown;
  after: unknown;
  detail: string | null;
}

export interface NewAuditEntry {
  actorUserId: number | null;
  actor: string;
  workspaceId: number | null;
  action: string;
  targetType?: string | null;
  targetName?: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  before?: unknown;
  after?: unknown;
  detail?: string | null;
}

export interface AuditFilter {
  /** Only these workspaces; entries without a workspace are included when `includeGlobal`. */
  workspaceIds?: number[] | undefined;
  includeGlobal?: boolean | undefined;
  workspaceId?: number | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  limit?: number | undefined;
}

export const sessionTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === '23505';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const toUser = (row: any): UserRecord => ({ id: Number(row.id), email: row.email, displayName: row.display_name, disabled: row.disabled, createdAt: row.created_at, instanceOwner: row.instance_owner === true });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const toWorkspace = (row: any): WorkspaceRecord => ({ id: Number(row.id), name: row.name, createdAt: row.created_at });

/** Users, workspaces, memberships, sessions, login failures and the audit log. */
export function createAccessStore(pool: pg.Pool) {
  const store = {
    async countUsers(): Promise<number> {
      const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from users');
      return rows[0]!.n;
    },

    async createUser(input: { email: string; displayName: string; passwordHash: string; instanceOwner?: boolean }): Promise<UserRecord> {
      try {
        const { rows } = await pool.query('insert into users (email, display_name, password_hash, instance_owner) values ($1, $2, $3, $4) returning *', [input.email, input.displayName, input.passwordHash, input.instanceOwner ?? false]);
        return toUser(rows[0]);
      } catch (error) {
        if (isUniqueViolation(error)) throw new HindsightError('conflict', `user "${input.email}" already exists`);
        throw error;
      }
    },

    async findUserByEmail(email: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
      const { rows } = await pool.query('select * from users where lower(email) = lower($1)', [email]);
      return rows[0] ? { ...toUser(rows[0]), passwordHash: rows[0].password_hash } : undefined;
    },

    async getUser(email: string): Promise<UserRecord> {
      const user = await store.findUserByEmail(email);
      if (!user) throw new HindsightError('not_found', `user "${email}" does not exist (hindsight user list shows them)`);
      const { passwordHash: _hidden, ...rest } = user;
      return rest;
    },

    async getUserById(id: number): Promise<UserRecord | undefined> {
      const { rows } = await pool.query('select * from users where id = $1', [id]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async listUsers(): Promise<UserRecord[]> {
      const { rows } = await pool.query('select * from users order by lower(email)');
      return rows.map(toUser);
    },

    async setUserDisabled(email: string, disabled: boolean): Promise<UserRecord> {
      const { rows } = await pool.query('update users set disabled = $2 where lower(email) = lower($1) returning *', [email, disabled]);
      if (!rows[0]) throw new HindsightError('not_found', `user "${email}" does not exist (hindsight user list shows them)`);
      // A disabled account loses its open sessions at once.
      if (disabled) await pool.query('delete from sessions where user_id = $1', [rows[0].id]);
      return toUser(rows[0]);
    },

    async setInstanceOwner(userId: number, instanceOwner: boolean): Promise<void> {
      await pool.query('update users set instance_owner = $2 where id = $1', [userId, instanceOwner]);
    },

    async createWorkspace(name: string): Promise<WorkspaceRecord> {
      try {
        const { rows } = await pool.query('insert into workspaces (name) values ($1) returning *', [name]);
        return toWorkspace(rows[0]);
      } catch (error) {
        if (isUniqueViolation(error)) throw new HindsightError('conflict', `workspace "${name}" already exists`);
        throw error;
      }
    },

    async findWorkspace(name: string): Promise<WorkspaceRecord | undefined> {
      const { rows } = await pool.query('select * from workspaces where name = $1', [name]);
      return rows[0] ? toWorkspace(rows[0]) : undefined;
    },

    async workspaceById(id: number): Promise<WorkspaceRecord | undefined> {
      const { rows } = await pool.query('select * from workspaces where id = $1', [id]);
      return rows[0] ? toWorkspace(rows[0]) : undefined;
    },

    async listWorkspaces(): Promise<WorkspaceRecord[]> {
      const { rows } = await pool.query('select * from workspaces order by id');
      return rows.map(toWorkspace);
    },

    async setMembership(userId: number, workspaceId: number, role: Role): Promise<void> {
      await pool.query(
        `insert into memberships (user_id, workspace_id, role) values ($1, $2, $3)
         on conflict (user_id, workspace_id) do update set role = excluded.role`,
        [userId, workspaceId, role],
      );
    },

    async removeMembership(userId: number, workspaceId: number): Promise<boolean> {
      const result = await pool.query('delete from memberships where user_id = $1 and workspace_id = $2', [userId, workspaceId]);
      return (result.rowCount ?? 0) > 0;
    },

    async membershipsOfUser(userId: number): Promise<MembershipRecord[]> {
      return store.memberships({ userId });
    },

    async memberships(filter: { userId?: number; workspaceId?: number } = {}): Promise<MembershipRecord[]> {
      const { rows } = await pool.query(
        `select m.user_id, u.email, m.workspace_id, w.name as workspace, m.role
           from memberships m join users u on u.id = m.user_id join workspaces w on w.id = m.workspace_id
          where ($1::bigint is null or m.user_id = $1) and ($2::bigint is null or m.workspace_id = $2)
          order by w.name, lower(u.email)`,
        [filter.userId ?? null, filter.workspaceId ?? null],
      );
      return rows.map((r) => ({ userId: Number(r.user_id), email: r.email, workspaceId: Number(r.workspace_id), workspace: r.workspace, role: r.role }));
    },

    async countOwners(workspaceId: number): Promise<number> {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from memberships m join users u on u.id = m.user_id where m.workspace_id = $1 and m.role = 'owner' and not u.disabled`,
        [workspaceId],
      );
      return rows[0]!.n;
    },

    /** Opens a session and returns its token (256 random bits); only the token's SHA-256 is stored. */
    async createSession(userId: number, options: { ttlMs: number; ip: string | null; userAgent: string | null }): Promise<{ token: string; expiresAt: Date }> {
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + options.ttlMs);
      await pool.query(
        'insert into sessions (token_sha256, user_id, expires_at, ip, user_agent) values ($1, $2, $3, $4, $5)',
        [sessionTokenHash(token), userId, expiresAt, options.ip, options.userAgent?.slice(0, 300) ?? null],
      );
      return { token, expiresAt };
    },

    /** The live session of a token (not expired, user not disabled), sliding its expiry forward. */
    async touchSession(token: string, ttlMs: number): Promise<SessionRecord | undefined> {
      const { rows } = await pool.query(
        `update sessions s set last_seen_at = now(), expires_at = greatest(s.expires_at, now() + $2 * interval '1 millisecond')
           from users u
          where s.token_sha256 = $1 and s.expires_at > now() and u.id = s.user_id and not u.disabled
          returning s.user_id, s.expires_at, s.last_seen_at`,
        [sessionTokenHash(token), ttlMs],
      );
      return rows[0] ? { userId: Number(rows[0].user_id), expiresAt: rows[0].expires_at, lastSeenAt: rows[0].last_seen_at } : undefined;
    },

    async deleteSession(token: string): Promise<void> {
      await pool.query('delete from sessions where token_sha256 = $1', [sessionTokenHash(token)]);
    },

    async purgeExpiredSessions(): Promise<number> {
      const result = await pool.query('delete from sessions where expires_at < now()');
      return result.rowCount ?? 0;
    },

    /** Current lockouts of the given keys (email:… / ip:…): the latest `locked_until` in the future. */
    async lockedUntil(keys: string[]): Promise<Date | null> {
      const { rows } = await pool.query<{ until: Date | null }>('select max(locked_until) as until from login_failures where key = any($1) and locked_until > now()', [keys]);
      return rows[0]?.until ?? null;
    },

    async failuresOf(key: string): Promise<number> {
      const { rows } = await pool.query<{ failures: number }>('select failures from login_failures where key = $1', [key]);
      return rows[0]?.failures ?? 0;
    },

    /**
     * Counts one failure for a key and returns the new count; at `limit` failures (and at every
     * further multiple) the key is locked for `lockMs`, doubled for each lockout already served.
     * Failures older than a day are forgotten.
     */
    async recordLoginFailure(key: string, limit: number, lockMs: number): Promise<number> {
      const { rows } = await pool.query<{ failures: number }>(
        `insert into login_failures as f (key, failures, last_failure_at) values ($1, 1, now())
         on conflict (key) do update set
           failures = case when f.last_failure_at < now() - interval '1 day' then 1 else f.failures + 1 end,
           last_failure_at = now()
         returning failures`,
        [key],
      );
      const failures = rows[0]!.failures;
      if (failures >= limit && failures % limit === 0) {
        const lockouts = failures / limit;
        await pool.query(`update login_failures set locked_until = now() + $2 * interval '1 millisecond' where key = $1`, [key, lockMs * 2 ** Math.min(lockouts - 1, 6)]);
      }
      return failures;
    },

    async clearLoginFailures(key: string): Promise<void> {
      await pool.query('delete from login_failures where key = $1', [key]);
    },

    async appendAudit(entry: NewAuditEntry): Promise<number> {
      const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
      const { rows } = await pool.query(
        `insert into audit_log (actor_user_id, actor, workspace_id, action, target_type, target_name, source, outcome, before, after, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id`,
        [entry.actorUserId, entry.actor, entry.workspaceId, entry.action, entry.targetType ?? null, entry.targetName ?? null, entry.source, entry.outcome, json(entry.before), json(entry.after), entry.detail ?? null],
      );
      return Number(rows[0].id);
    },

    async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (v: unknown) => { args.push(v); return `$${args.length}`; };
      if (filter.workspaceIds) {
        where.push(`(a.workspace_id = any(${arg(filter.workspaceIds)})${filter.includeGlobal ? ' or a.workspace_id is null' : ''})`);
      }
      if (filter.workspaceId !== undefined) where.push(`a.workspace_id = ${arg(filter.workspaceId)}`);
      if (filter.actor) where.push(`lower(a.actor) = lower(${arg(filter.actor)})`);
      if (filter.action) where.push(filter.action.endsWith('.') || !filter.action.includes('.') ? `a.action like ${arg(`${filter.action.replace(/\.$/, '')}.%`)}` : `a.action = ${arg(filter.action)}`);
      if (filter.since) where.push(`a.at >= ${arg(filter.since)}`);
      const { rows } = await pool.query(
        `select a.*, w.name as workspace from audit_log a left join workspaces w on w.id = a.workspace_id
          ${where.length ? `where ${where.join(' and ')}` : ''} order by a.at desc, a.id desc limit ${arg(Math.min(filter.limit ?? 200, 5000))}`,
        args,
      );
      return rows.map((r) => ({
        id: Number(r.id), at: r.at, actorUserId: r.actor_user_id === null ? null : Number(r.actor_user_id), actor: r.actor,
        workspaceId: r.workspace_id === null ? null : Number(r.workspace_id), workspace: r.workspace, action: r.action,
        targetType: r.target_type, targetName: r.target_name, source: r.source, outcome: r.outcome, before: r.before, after: r.after, detail: r.detail,
      }));
    },

    /** Deletes audit entries older than the retention period; returns how many went. */
    async purgeAudit(retentionDays: number): Promise<number> {
      const result = await pool.query(`delete from audit_log where at < now() - $1 * interval '1 day'`, [retentionDays]);
      return result.rowCount ?? 0;
    },

    async databaseWorkspace(name: string): Promise<number | undefined> {
      const { rows } = await pool.query('select workspace_id from databases where name = $1', [name]);
      return rows[0] ? Number(rows[0].workspace_id) : undefined;
    },

    async storageWorkspace(name: string): Promise<number | undefined> {
      const { rows } = await pool.query('select workspace_id from storages where name = $1', [name]);
      return rows[0] ? Number(rows[0].workspace_id) : undefined;
    },

    async backupWorkspace(backupId: string): Promise<{ workspaceId: number; database: string } | undefined> {
      const { rows } = await pool.query('select d.workspace_id, d.name from backups b join databases d on d.id = b.database_id where b.id = $1', [backupId]);
      return rows[0] ? { workspaceId: Number(rows[0].workspace_id), database: rows[0].name } : undefined;
    },

    async setDatabaseWorkspace(name: string, workspaceId: number): Promise<void> {
      await pool.query('update databases set workspace_id = $2 where name = $1', [name, workspaceId]);
    },

    async setStorageWorkspace(name: string, workspaceId: number): Promise<void> {
      await pool.query('update storages set workspace_id = $2 where name = $1', [name, workspaceId]);
    },
  };
  return store;
}

export type AccessStore = ReturnType<typeof createAccessStore>;
