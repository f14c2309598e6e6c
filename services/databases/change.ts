import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import type { Action, Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

/** What the audit entry of a change to a database records: its settings before, and the result. */
export interface DatabaseAudit<T> {
  before: (database: DatabaseRecord) => unknown;
  after: (result: T) => unknown;
}

/**
 * A change to one database through the guard, audited with what `audit` takes of its settings
 * before and of the result. A name not registered is left for the guard to refuse.
 */
export async function changeDatabase<T>(
  ctx: ServiceContext,
  actor: Actor,
  database: string,
  action: Action,
  work: () => Promise<T>,
  audit: DatabaseAudit<T>,
): Promise<T> {
  const before = await ctx.runtime.catalog.getDatabase(database).then(audit.before, () => undefined);
  return ctx.guard.run(actor, { database }, action, work, { before, after: audit.after });
}
