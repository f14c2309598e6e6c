/** The catalog rebuild's part of the Catalog: what it reads of the catalog, and the writes of a plan. */
import type pg from 'pg';
import { applyPlan } from './apply.ts';
import type { RebuildPlan } from './plan.ts';
import { recordedState } from './write.ts';

export function createRebuildStore(pool: pg.Pool) {
  return {
    recordedState: () => recordedState(pool),
    apply: (plan: RebuildPlan, storageName: string) => applyPlan(pool, plan, storageName),
  };
}
