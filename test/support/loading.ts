import { connect, type PgTarget } from '../../lib/pg/connection.ts';

/**
 * Starts loading `sql` into database `name` at `target` and returns the load, to be awaited once the caller has
 * started other things meanwhile (a worker, a console, a browser). The connection is opened before this returns:
 * loading the worker or the console keeps this process busy for seconds on a slow machine, longer than a
 * connection attempt waits. A failed load is an error for whoever awaits it, never an unhandled rejection before.
 */
export async function startLoading(name: string, target: PgTarget, sql: string): Promise<{ loaded: Promise<void> }> {
  const client = await connect(name, target);
  const loaded = client
    .query(sql)
    .then(() => undefined)
    .finally(() => client.end());
  loaded.catch(() => undefined);
  return { loaded };
}
