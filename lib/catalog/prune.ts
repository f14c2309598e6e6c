/**
 * Keeps the catalog bounded: counts (a dry run) or deletes what the rules of prune-rules.ts
 * choose. Deletes go in batches of at most `batchSize` rows, each its own statement and so its
 * own short transaction: a large catalog is pruned without holding locks for long, and an
 * interrupted run has removed whole batches only — the next run carries on.
 */
import type pg from 'pg';
import { bind, type Queryable } from './db.ts';
import { cutoffOf, pruneRules, type CatalogRetention, type PruneRule } from './prune-rules.ts';

export interface PruneCount {
  rule: string;
  table: string;
  describes: string;
  /** Rows older than this are the rule's. */
  before: string;
  rows: number;
}

export interface PruneOptions {
  /** Rows per delete statement. */
  batchSize?: number;
  /** Called after each batch (an activity heartbeats here). */
  onBatch?: (rule: string, deletedSoFar: number) => void;
}

export const DEFAULT_PRUNE_BATCH = 5000;

async function countRule(db: Queryable, rule: PruneRule, cutoff: Date): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`select count(*) as n from ${rule.table} t where ${rule.where}`, [
    cutoff,
  ]);
  return Number(rows[0]!.n);
}

/**
 * One batch: the rows are picked by their physical address (ctid) in the statement that deletes
 * them, so each batch is one short statement whatever the table's key.
 */
async function deleteBatch(db: Queryable, rule: PruneRule, cutoff: Date, batchSize: number): Promise<number> {
  const result = await db.query(
    `delete from ${rule.table} where ctid = any(array(select t.ctid from ${rule.table} t where ${rule.where} limit $2))`,
    [cutoff, batchSize],
  );
  return result.rowCount ?? 0;
}

const countOf = (rule: PruneRule, cutoff: Date, rows: number): PruneCount => ({
  rule: rule.name,
  table: rule.table,
  describes: rule.describes,
  before: cutoff.toISOString(),
  rows,
});

/** What a run would delete now, rule by rule (cascaded rows are not counted). */
export async function planCatalogPrune(
  db: Queryable,
  retention: CatalogRetention,
  now = new Date(),
): Promise<PruneCount[]> {
  const counts: PruneCount[] = [];
  for (const rule of pruneRules) {
    const cutoff = cutoffOf(rule, retention, now);
    counts.push(countOf(rule, cutoff, await countRule(db, rule, cutoff)));
  }
  return counts;
}

/** Deletes what the rules choose, rule by rule in batches; returns how many rows each removed. */
export async function pruneCatalog(
  db: Queryable,
  retention: CatalogRetention,
  now = new Date(),
  options: PruneOptions = {},
): Promise<PruneCount[]> {
  const batchSize = options.batchSize ?? DEFAULT_PRUNE_BATCH;
  const counts: PruneCount[] = [];
  for (const rule of pruneRules) {
    const cutoff = cutoffOf(rule, retention, now);
    let deleted = 0;
    for (;;) {
      const n = await deleteBatch(db, rule, cutoff, batchSize);
      deleted += n;
      options.onBatch?.(rule.name, deleted);
      if (n < batchSize) break;
    }
    counts.push(countOf(rule, cutoff, deleted));
  }
  return counts;
}

/** The catalog's `maintenance` repository (createCatalog). */
export function createMaintenanceStore(pool: pg.Pool) {
  return bind(pool, { planCatalogPrune, pruneCatalog });
}
