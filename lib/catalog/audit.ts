import { AUDIT_CHAIN_LOCK, linkEntry, verifyAuditChain, type AuditChainRow, type ChainReport } from './audit-chain.ts';
import { allRows, withTransaction, type Queryable, type SealingDb } from './db.ts';

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

interface AuditRow {
  id: string;
  at: Date;
  actor_user_id: string | null;
  actor: string;
  workspace_id: string | null;
  workspace: string | null;
  action: string;
  target_type: string | null;
  target_name: string | null;
  source: string | null;
  outcome: AuditEntry['outcome'];
  before: unknown;
  after: unknown;
  detail: string | null;
}

const idOrNull = (v: string | null) => (v === null ? null : Number(v));

function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    id: Number(r.id),
    at: r.at,
    actorUserId: idOrNull(r.actor_user_id),
    actor: r.actor,
    workspaceId: idOrNull(r.workspace_id),
    workspace: r.workspace,
    action: r.action,
    targetType: r.target_type,
    targetName: r.target_name,
    source: r.source,
    outcome: r.outcome,
    before: r.before,
    after: r.after,
    detail: r.detail,
  };
}

/**
 * Appends an entry and links it to the chain (lib/catalog/audit-chain.ts), in one transaction under
 * the chain's lock: the entry and its MAC are written together or not at all.
 */
export async function appendAudit(db: SealingDb, entry: NewAuditEntry): Promise<number> {
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  return withTransaction(db.pool, async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
    const { rows } = await tx.query<AuditChainRow>(
      `insert into audit_log (actor_user_id, actor, workspace_id, action, target_type, target_name, source, outcome, before, after, detail)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning *`,
      [
        entry.actorUserId,
        entry.actor,
        entry.workspaceId,
        entry.action,
        entry.targetType ?? null,
        entry.targetName ?? null,
        entry.source,
        entry.outcome,
        json(entry.before),
        json(entry.after),
        entry.detail ?? null,
      ],
    );
    await linkEntry(tx, rows[0]!, db.keys.current());
    return Number(rows[0]!.id);
  });
}

/** The where clause of a filter, with its arguments; `action` "backup" or "backup." matches every backup.* action. */
function auditWhere(filter: AuditFilter): { where: string; args: unknown[] } {
  const conditions: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  if (filter.workspaceIds) {
    conditions.push(
      `(a.workspace_id = any(${arg(filter.workspaceIds)})${filter.includeGlobal ? ' or a.workspace_id is null' : ''})`,
    );
  }
  if (filter.workspaceId !== undefined) conditions.push(`a.workspace_id = ${arg(filter.workspaceId)}`);
  if (filter.actor) conditions.push(`lower(a.actor) = lower(${arg(filter.actor)})`);
  if (filter.action) {
    const prefix = filter.action.endsWith('.') || !filter.action.includes('.');
    conditions.push(
      prefix ? `a.action like ${arg(`${filter.action.replace(/\.$/, '')}.%`)}` : `a.action = ${arg(filter.action)}`,
    );
  }
  if (filter.since) conditions.push(`a.at >= ${arg(filter.since)}`);
  return { where: conditions.length ? `where ${conditions.join(' and ')}` : '', args };
}

export async function listAudit(db: Queryable, filter: AuditFilter = {}): Promise<AuditEntry[]> {
  const { where, args } = auditWhere(filter);
  args.push(Math.min(filter.limit ?? 200, 5000));
  return allRows(
    db,
    `select a.*, w.name as workspace from audit_log a left join workspaces w on w.id = a.workspace_id
      ${where} order by a.at desc, a.id desc limit $${args.length}`,
    args,
    toAuditEntry,
  );
}

const PURGE_BATCH = 5000;

/**
 * Deletes audit entries older than the retention period; returns how many went. In batches, each its
 * own statement: a first purge of a years-old log must not hold one transaction over millions of rows
 * while the console appends entries to the same table.
 */
export async function purgeAudit(db: Queryable, retentionDays: number): Promise<number> {
  let removed = 0;
  for (;;) {
    const result = await db.query(
      `delete from audit_log where ctid = any(array(
         select ctid from audit_log where at < now() - $1 * interval '1 day' limit $2))`,
      [retentionDays, PURGE_BATCH],
    );
    removed += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < PURGE_BATCH) return removed;
  }
}

/** Checks the whole chain with every key of the keyring (`hindsight audit verify`). */
export function verifyAudit(db: SealingDb): Promise<ChainReport> {
  return verifyAuditChain(db.pool, db.keys.resolve);
}

/** The MAC an entry carries: undefined when there is no such entry, null when it has none. */
export async function auditEntryMac(db: Queryable, id: number): Promise<string | null | undefined> {
  const { rows } = await db.query<{ mac: string | null }>('select mac from audit_log where id = $1', [id]);
  return rows[0]?.mac;
}
