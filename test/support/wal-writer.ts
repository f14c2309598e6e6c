/** A client that keeps writing WAL on a test server, as an application would. */
import type pg from 'pg';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';

/** Inserts a row every few milliseconds until stopped, riding out server restarts. */
export function startWriter(target: PgTarget) {
  let stopped = false;
  let rows = 0;
  let errors = 0;
  const done = (async () => {
    let client: pg.Client | undefined;
    while (!stopped) {
      try {
        client ??= await connect('writer', target);
        await client.query(
          `insert into events (at, payload) values (clock_timestamp(), repeat(md5(random()::text), 20))`,
        );
        rows += 1;
      } catch {
        errors += 1;
        await client?.end().catch(() => undefined);
        client = undefined;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { rows, errors };
    },
  };
}
